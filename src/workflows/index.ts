export { orderWorkflow } from './order.js';
export { poolWorkflow } from './pool.js';
export { refreshPricesWorkflow } from './prices.js';
