import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

/**
 * NIST SP 800-63B: a minimum length, no composition rules, and a refusal of passwords that are
 * common or derived from the account. Strength is zxcvbn's estimate against its dictionaries of
 * common passwords, words and keyboard patterns, with the username as one more dictionary word.
 */
export const MIN_PASSWORD_LENGTH = 8;
/** zxcvbn score 3: about 10^8 guesses or more, out of reach of throttled online guessing. */
const MIN_SCORE = 3;

let checker: ZxcvbnFactory | undefined;
const zxcvbn = () => (checker ??= new ZxcvbnFactory({ graphs: adjacencyGraphs, dictionary }));

/** Why `password` may not be used for `username`, or undefined when it may. */
export function passwordProblem(password: string, username: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return `the password must be at least ${MIN_PASSWORD_LENGTH} characters long`;
  }
  const name = username.toLowerCase();
  if (name && password.toLowerCase().includes(name)) return 'the password must not contain the username';
  const result = zxcvbn().check(password, [username]);
  if (result.score >= MIN_SCORE) return undefined;
  return result.feedback.warning === 'userInputs'
    ? 'the password is too close to the username'
    : 'the password is too common or too easy to guess; a few unrelated words make a strong one';
}

/** The cost of an argon2id password hash (memory in KiB). */
export interface PasswordHashCost {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP's minimum for argon2id: 19 MiB, two passes, one lane. Nothing cheaper is accepted. */
export const MIN_PASSWORD_HASH_COST: PasswordHashCost = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };
