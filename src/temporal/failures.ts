import { ApplicationFailure } from '@temporalio/common';
import { DomainError, isErrorCode, isErrorKind, type ErrorKind } from '../domain/errors.js';

/** What a refusal carries through Temporal: its code, kind and message, never a transport status. */
interface FailureDetails {
  code: string;
  kind?: ErrorKind;
  message?: string;
}

/**
 * A domain error as a non-retryable Temporal failure: the failure type and message are the
 * error's (unless `type` or `message` say otherwise, for the logs) and the details hold the error,
 * so `fromFailure` can read it back wherever the failure arrives (the workflow, the API).
 * Refusals are benign by default: a normal outcome that the worker logs without a stack.
 */
export function toFailure(
  error: DomainError,
  options: { type?: string; message?: string; benign?: boolean } = {},
): ApplicationFailure {
  const details: FailureDetails = { code: error.code, kind: error.kind, message: error.message };
  return ApplicationFailure.create({
    type: options.type ?? error.code,
    message: options.message ?? error.message,
    nonRetryable: true,
    category: options.benign === false ? undefined : 'BENIGN',
    details: [details],
  });
}

/**
 * The domain error a failure carries, if any: the failure itself or one of its causes (an
 * activity failure wraps it, an update failure wraps the workflow's).
 */
export function fromFailure(error: unknown): DomainError | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (!(e instanceof ApplicationFailure)) continue;
    const [details] = (e.details ?? []) as (Partial<FailureDetails> | undefined)[];
    if (!details || !isErrorCode(details.code)) return undefined;
    const kind = isErrorKind(details.kind) ? details.kind : undefined;
    return new DomainError(details.code, details.message ?? e.message, undefined, kind);
  }
  return undefined;
}
