import { loadEnv } from '../src/config/env.js';
import { openDatabase } from '../src/runtime/resources.js';
import { reconcile } from '../src/services/ledger.js';

/** Exit 0 when every wallet equals the sum of its ledger, 1 (listing the wallets) otherwise. */
const orm = await openDatabase(loadEnv());
try {
  const { wallets, mismatches } = await reconcile(orm.em.fork());
  if (mismatches.length === 0) {
    console.log(`reconcile: ${wallets} wallets, all balances equal their ledger`);
  } else {
    console.error(`reconcile: ${mismatches.length} of ${wallets} wallets disagree with their ledger`);
    for (const m of mismatches) {
      console.error(
        `  wallet ${m.wallet_id} (user ${m.user_id}): balance ${m.balance}, ledger ${m.ledger_sum}`,
      );
    }
    process.exitCode = 1;
  }
} finally {
  await orm.close();
}
