/** Query parameters that carry a secret and never reach a log line or a trace. */
const SECRET_PARAMETERS = ['access_token'];

/**
 * The URL with the value of every secret query parameter replaced by `[redacted]`, matched
 * however the name is spelled (any case, percent-encoded), so that a token sent in the query
 * string (the order event stream accepts one) is never written anywhere.
 */
export function redactUrl(url: string): string {
  const queryAt = url.indexOf('?');
  if (queryAt === -1) return url;
  const query = url
    .slice(queryAt + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const rawName = equals === -1 ? pair : pair.slice(0, equals);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // a malformed escape: compare the name as written
      }
      return SECRET_PARAMETERS.includes(name.toLowerCase()) ? `${rawName}=[redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, queryAt)}?${query}`;
}
