import { loadEnv } from '../src/config/env.js';
import { openDatabase } from '../src/runtime/resources.js';
import { reconcile } from '../src/services/ledger.js';

/**
 * Exit 0 when every wallet equals the sum of its ledger and every completed purchase agrees with
 * the house account; 1 otherwise, listing what disagrees. Prints the house's balance and positions.
 */
const orm = await openDatabase(loadEnv());
try {
  const { wallets, mismatches, house } = await reconcile(orm.em.fork());
  if (mismatches.length === 0) {
    console.log(`reconcile: ${wallets} wallets, all balances equal their ledger`);
  } else {
    console.error(`reconcile: ${mismatches.length} of ${wallets} wallets disagree with their ledger`);
    for (const m of mismatches) {
      console.error(
        `  wallet ${m.wallet_id} (user ${m.user_id}): balance ${m.balance}, ledger ${m.ledger_sum}`,
      );
    }
  }
  if (house.failures.length === 0) {
    console.log(`reconcile: ${house.purchases} completed purchases, all agree with the house account`);
  } else {
    console.error(`reconcile: ${house.failures.length} failed checks over ${house.purchases} purchases`);
    for (const f of house.failures) {
      const order = f.order_id === null ? '' : ` order ${f.order_id}`;
      console.error(`  ${f.purchase}${order}: ${f.check}: expected ${f.expected}, actual ${f.actual}`);
    }
  }
  console.log(`house balance: ${house.balance} USD`);
  for (const p of house.positions) console.log(`house position: ${p.quantity} ${p.asset}`);
  for (const fee of house.unvalued_fees)
    console.log(`unvalued fee: ${fee.quantity} ${fee.asset} (purchase ${fee.purchase})`);
  if (mismatches.length > 0 || house.failures.length > 0) process.exitCode = 1;
} finally {
  await orm.close();
}
