import { parser } from '@prometheus-io/lezer-promql';

/** Grafana's own variables stand for a range or a number in the query Grafana sends. */
const GRAFANA_VARIABLES: [RegExp, string][] = [
  [/\$__rate_interval|\$__interval|\$__range/g, '5m'],
  [/\$__range_s|\$__interval_ms/g, '300'],
];

/**
 * The metric names an expression selects, the label names each selector matches on, or the reason
 * it does not parse. A selector without a metric name (`{__name__=~"..."}`) is refused: it could
 * select anything, so nothing checks it.
 */
export function metricNames(expr: string): {
  names: string[];
  matchers: { metric: string; label: string }[];
  errors: string[];
} {
  const query = GRAFANA_VARIABLES.reduce((q, [pattern, value]) => q.replace(pattern, value), expr);
  const text = (node: { from: number; to: number }) => query.slice(node.from, node.to);
  const names = new Set<string>();
  const matchers: { metric: string; label: string }[] = [];
  const errors: string[] = [];
  parser.parse(query).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`syntax error at ${node.from}: ${query.slice(node.from, node.from + 20)}`);
      if (node.name !== 'VectorSelector') return;
      const name = node.node.getChild('Identifier');
      if (!name) {
        errors.push(`a selector without a metric name: ${text(node)}`);
        return;
      }
      names.add(text(name));
      for (const matcher of node.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) {
        const label = matcher.getChild('LabelName');
        if (label) matchers.push({ metric: text(name), label: text(label) });
      }
    },
  });
  return { names: [...names], matchers, errors };
}

/**
 * Every sample's metric name in a Prometheus text exposition (histograms give _bucket, _sum,
 * _count), with the label names its samples carry.
 */
export function exposedNames(text: string): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s/.exec(line);
    if (!match) continue;
    const labels = names.get(match[1]!) ?? new Set<string>();
    for (const [, label] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(label!);
    names.set(match[1]!, labels);
  }
  return names;
}
