/** A refusal in Binance's shape: `{"code": <negative int>, "msg": "..."}` with Binance's HTTP status. */
export class BinanceError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    readonly msg: string,
  ) {
    super(msg);
  }

  body(): { code: number; msg: string } {
    return { code: this.code, msg: this.msg };
  }
}

// Binance's own codes and messages, which ccxt's binance class maps to its error classes.
export const errors = {
  unknown: (msg: string) => new BinanceError(400, -1000, msg),
  notFound: (what: string) => new BinanceError(404, -1000, `Unknown endpoint: ${what}`),
  illegalChars: (param: string) =>
    new BinanceError(
      400,
      -1100,
      `Illegal characters found in parameter '${param}'; legal range is '^([0-9]{1,20})(\\.[0-9]{1,20})?$'.`,
    ),
  illegalValue: (param: string, value: string) =>
    new BinanceError(400, -1100, `Illegal characters found in parameter '${param}': '${value}'.`),
  mandatory: (param: string) =>
    new BinanceError(
      400,
      -1102,
      `Mandatory parameter '${param}' was not sent, was empty/null, or malformed.`,
    ),
  eitherMandatory: (a: string, b: string) =>
    new BinanceError(400, -1102, `Param '${a}' or '${b}' must be sent, but both were empty!`),
  combination: () => new BinanceError(400, -1128, 'Combination of optional parameters invalid.'),
  badRecvWindow: () => new BinanceError(400, -1131, 'recvWindow must be less than 60000'),
  aheadOfServer: () =>
    new BinanceError(400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."),
  outsideRecvWindow: () =>
    new BinanceError(400, -1021, 'Timestamp for this request is outside of the recvWindow.'),
  badSignature: () => new BinanceError(400, -1022, 'Signature for this request is not valid.'),
  badApiKeyFormat: () => new BinanceError(401, -2014, 'API-key format invalid.'),
  unknownApiKey: () => new BinanceError(401, -2015, 'Invalid API-key, IP, or permissions for action.'),
  invalidSymbol: () => new BinanceError(400, -1121, 'Invalid symbol.'),
  invalidOrderType: () => new BinanceError(400, -1116, 'Invalid orderType.'),
  invalidSide: () => new BinanceError(400, -1117, 'Invalid side.'),
  unsupported: () => new BinanceError(400, -1014, 'Unsupported order combination.'),
  filter: (name: string) => new BinanceError(400, -1013, `Filter failure: ${name}`),
  duplicateOrder: () => new BinanceError(400, -2010, 'Duplicate order sent.'),
  insufficientBalance: () =>
    new BinanceError(400, -2010, 'Account has insufficient balance for requested action.'),
  noSuchOrder: () => new BinanceError(400, -2013, 'Order does not exist.'),
};
