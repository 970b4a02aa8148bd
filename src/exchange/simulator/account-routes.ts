/** Binance's SIGNED endpoints: the account, placing and querying orders, the account's trades. */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseDecimal } from '../../domain/money.js';
import { SIM_DECIMALS } from './config.js';
import type { SimulatorContext } from './context.js';
import { errors } from './errors.js';
import { checkRecvWindow, verifySigned, type SignedRequest } from './signing.js';
import type { Market, SimOrder, SimulatorState } from './state.js';
import { account, myTrade, newOrderResponse, queriedOrder, type ResponseType } from './views.js';

const ORDER_TYPES = [
  'LIMIT',
  'MARKET',
  'STOP_LOSS',
  'STOP_LOSS_LIMIT',
  'TAKE_PROFIT',
  'TAKE_PROFIT_LIMIT',
  'LIMIT_MAKER',
];
const CLIENT_ORDER_ID = /^[.A-Z:/a-z0-9_-]{1,36}$/;
const RESPONSE_TYPES: ResponseType[] = ['ACK', 'RESULT', 'FULL'];

function rawRequest(request: FastifyRequest) {
  const url = request.raw.url ?? '';
  const at = url.indexOf('?');
  const header = request.headers['x-mbx-apikey'];
  return {
    apiKey: typeof header === 'string' ? header : undefined,
    query: at === -1 ? '' : url.slice(at + 1),
    body: typeof request.body === 'string' ? request.body : '',
  };
}

function marketParam(params: URLSearchParams, state: SimulatorState): Market {
  const symbol = params.get('symbol');
  if (!symbol) throw errors.mandatory('symbol');
  const market = state.market(symbol);
  if (!market) throw errors.invalidSymbol();
  return market;
}

function idParam(params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === null || text === '') return undefined;
  if (!/^\d{1,15}$/.test(text)) throw errors.illegalValue(name, text);
  return Number(text);
}

interface OrderRequest {
  market: Market;
  quoteOrderQty: bigint;
  clientOrderId: string;
  responseType: ResponseType;
}

/** Reads a new order; only a MARKET BUY for a quote amount (`quoteOrderQty`) is simulated. */
function orderRequest(params: URLSearchParams, state: SimulatorState): OrderRequest {
  const market = marketParam(params, state);
  const side = params.get('side');
  if (!side) throw errors.mandatory('side');
  if (side !== 'BUY' && side !== 'SELL') throw errors.invalidSide();
  const type = params.get('type');
  if (!type) throw errors.mandatory('type');
  if (!ORDER_TYPES.includes(type)) throw errors.invalidOrderType();
  if (type !== 'MARKET' || side !== 'BUY' || params.has('quantity')) throw errors.unsupported();
  const quote = params.get('quoteOrderQty');
  if (!quote) throw errors.mandatory('quoteOrderQty');
  const quoteOrderQty = parseDecimal(quote, SIM_DECIMALS);
  if (!quoteOrderQty.ok) throw errors.illegalChars('quoteOrderQty');
  const clientOrderId = params.get('newClientOrderId') || randomBytes(16).toString('base64url').slice(0, 22);
  if (!CLIENT_ORDER_ID.test(clientOrderId)) throw errors.illegalValue('newClientOrderId', clientOrderId);
  const responseType = (params.get('newOrderRespType') || 'FULL') as ResponseType;
  if (!RESPONSE_TYPES.includes(responseType)) throw errors.illegalValue('newOrderRespType', responseType);
  return { market, quoteOrderQty: quoteOrderQty.value, clientOrderId, responseType };
}

export function accountRoutes(app: FastifyInstance, ctx: SimulatorContext): void {
  const { config, state, faults } = ctx;
  const signed = (request: FastifyRequest): SignedRequest =>
    verifySigned(rawRequest(request), config, Date.now());

  app.get('/api/v3/account', async (request) => {
    const { params } = signed(request);
    const view = account(state, config, Date.now());
    if (params.get('omitZeroBalances') === 'true') {
      view.balances = view.balances.filter((b) => /[1-9]/.test(b.free) || /[1-9]/.test(b.locked));
    }
    return view;
  });

  app.post('/api/v3/order', async (request, reply) => {
    const req = signed(request);
    const order = orderRequest(req.params, state);
    // An order whose earlier request is still on its way is refused; a filled one may be sent again.
    if (!state.claim(order.clientOrderId)) throw errors.duplicateOrder();
    let placed: SimOrder;
    try {
      await faults.delay();
      if (faults.shouldFail()) {
        // A bare 503, as Binance's front end answers: ccxt reads it as ExchangeNotAvailable, where a
        // JSON -1001 would be an OperationFailed that is no NetworkError.
        return reply.code(503).type('text/plain').send('Service Unavailable');
      }
      checkRecvWindow(req, Date.now());
      placed = state.buy(order.market, order.quoteOrderQty, order.clientOrderId, Date.now());
    } finally {
      state.release(order.clientOrderId);
    }
    if (faults.shouldDrop()) {
      // The buy stands; only the answer is lost, which the caller cannot tell from a failure.
      request.log.warn({ clientOrderId: order.clientOrderId }, 'dropping response after executing');
      reply.hijack();
      request.raw.socket.destroy();
      return reply;
    }
    return newOrderResponse(placed, order.responseType);
  });

  app.get('/api/v3/order', async (request) => {
    const { params } = signed(request);
    const market = marketParam(params, state);
    const orderId = idParam(params, 'orderId');
    const clientOrderId = params.get('origClientOrderId') || undefined;
    if (orderId === undefined && clientOrderId === undefined) {
      throw errors.eitherMandatory('orderId', 'origClientOrderId');
    }
    const order =
      orderId !== undefined
        ? state.orderById(market.symbol, orderId)
        : state.orderByClientId(market.symbol, clientOrderId!);
    if (!order || (clientOrderId !== undefined && order.clientOrderId !== clientOrderId)) {
      throw errors.noSuchOrder();
    }
    return queriedOrder(order);
  });

  app.get('/api/v3/myTrades', async (request) => {
    const { params } = signed(request);
    const market = marketParam(params, state);
    const orderId = idParam(params, 'orderId');
    const fromId = idParam(params, 'fromId');
    const startTime = idParam(params, 'startTime');
    const endTime = idParam(params, 'endTime');
    const limit = Math.min(idParam(params, 'limit') ?? 500, 1000);
    return state
      .ordersOf(market.symbol)
      .filter(
        (o) =>
          (orderId === undefined || o.orderId === orderId) &&
          (fromId === undefined || o.tradeId >= fromId) &&
          (startTime === undefined || o.transactTime >= startTime) &&
          (endTime === undefined || o.transactTime <= endTime),
      )
      .slice(0, limit)
      .map(myTrade);
  });
}
