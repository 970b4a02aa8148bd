import { parser } from '@prometheus-io/lezer-promql';

/** Grafana's own variables stand for a range or a number in the query Grafana sends. */
const GRAFANA_VARIABLES: [RegExp, string][] = [
  [/\$__rate_interval|\$__interval|\$__range/g, '5m'],
  [/\$__range_s|\$__interval_ms/g, '300'],
];

/**
 * The metric names an expression selects, or the reason it does not parse. A selector without a
 * metric name (`{__name__=~"..."}`) is refused: it could select anything, so nothing checks it.
 */
export function metricNames(expr: string): { names: string[]; errors: string[] } {
  const query = GRAFANA_VARIABLES.reduce((q, [pattern, value]) => q.replace(pattern, value), expr);
  const names = new Set<string>();
  const errors: string[] = [];
  parser.parse(query).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`syntax error at ${node.from}: ${query.slice(node.from, node.from + 20)}`);
      if (node.name !== 'VectorSelector') return;
      const name = node.node.getChild('Identifier');
      if (name) names.add(query.slice(name.from, name.to));
      else errors.push(`a selector without a metric name: ${query.slice(node.from, node.to)}`);
    },
  });
  return { names: [...names], errors };
}

/** Every sample's metric name in a Prometheus text exposition (histograms give _bucket, _sum, _count). */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (match) names.add(match[1]!);
  }
  return names;
}
