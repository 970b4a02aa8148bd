import type { EntityManager } from '@mikro-orm/postgresql';

export interface LoginGuardConfig {
  /** Attempts allowed per window; the next one locks the key. */
  max: number;
  windowMs: number;
  /** Each lock lasts twice as long as the one before, up to this. */
  maxLockMs: number;
}

const SWEEP_EVERY_MS = 60 * 60 * 1000;

export type Reservation = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Counts sign-in attempts (a password or a one-time code) per key in Postgres. An attempt is
 * counted atomically before its secret is checked, so however many arrive at once, at most `max`
 * are ever checked per window. The attempt after those locks the key for a window, the next lock
 * for two, then four, and so on; a quiet `maxLockMs` forgets the back-off.
 */
export function createLoginGuard(config: LoginGuardConfig) {
  const { max, windowMs, maxLockMs } = config;
  let lastSweep = 0;

  /**
   * A row quiet for `maxLockMs` past its window acts exactly like no row, so it can go; otherwise
   * guesses at made-up usernames would pile rows up forever.
   */
  async function sweep(em: EntityManager): Promise<void> {
    if (Date.now() - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = Date.now();
    await em.execute(
      'delete from login_guards where window_ends_at <= now() - make_interval(secs => ? / 1000.0)',
      [maxLockMs],
    );
  }

  async function reserve(em: EntityManager, key: string): Promise<Reservation> {
    await sweep(em);
    // Raw SQL on purpose: one upsert counts, windows and locks the key atomically, and its row lock
    // orders concurrent attempts of one key; split into typed reads and writes it would race.
    const [row] = await em.execute<{ attempts: number; retry_ms: string | number }[]>(
      `insert into login_guards as g (key, attempts, window_ends_at)
         values (?, 1, now() + make_interval(secs => ? / 1000.0))
       on conflict (key) do update set
         attempts = case when g.window_ends_at <= now() then 1 else g.attempts + 1 end,
         lockouts = case
           when g.window_ends_at <= now() - make_interval(secs => ? / 1000.0) then 0
           when g.window_ends_at > now() and g.attempts = ? then g.lockouts + 1
           else g.lockouts end,
         window_ends_at = case
           when g.window_ends_at <= now() then now() + make_interval(secs => ? / 1000.0)
           when g.attempts = ? then now() + make_interval(secs => least(? * power(2, least(g.lockouts, 30)), ?) / 1000.0)
           else g.window_ends_at end,
         updated_at = now()
       returning attempts, ceil(extract(epoch from window_ends_at - now()) * 1000) as retry_ms`,
      [key, windowMs, maxLockMs, max, windowMs, max, windowMs, maxLockMs],
    );
    if (row!.attempts <= max) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Number(row!.retry_ms) / 1000)) };
  }

  /**
   * A successful sign-in gives its attempt back and clears the back-off. An attempt is never given
   * back once the key is locked, so a lock always runs its course.
   */
  async function refund(em: EntityManager, key: string): Promise<void> {
    await em.execute(
      `update login_guards set
         attempts = case when attempts <= ? then greatest(attempts - 1, 0) else attempts end,
         lockouts = 0, updated_at = now()
       where key = ?`,
      [max, key],
    );
  }

  return { reserve, refund };
}

export type LoginGuard = ReturnType<typeof createLoginGuard>;

/** The guard when rate limits are turned off: every attempt is checked. */
export const unguarded: LoginGuard = {
  reserve: async () => ({ allowed: true }),
  refund: async () => undefined,
};
