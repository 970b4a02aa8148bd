import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import {
  DomainError,
  accountNotFound,
  badRequest,
  insufficientFunds,
  reviewerNotAdmin,
  unauthorized,
} from '../src/domain/errors.js';
import { routeFor, stateOn } from '../src/domain/orders.js';
import { fromFailure, toFailure } from '../src/temporal/failures.js';
import { errorStatus } from '../src/api/plugins/error-handler.js';

describe('routeFor', () => {
  it('buys a total of at least the threshold alone and pools a smaller one', () => {
    expect(routeFor(1000n, 1000n)).toBe('exchange');
    expect(routeFor(1001n, 1000n)).toBe('exchange');
    expect(routeFor(999n, 1000n)).toBe('pool');
    expect(stateOn(routeFor(1000n, 1000n))).toBe('pending');
    expect(stateOn(routeFor(1n, 1000n))).toBe('aggregated');
  });
});

describe('domain errors', () => {
  it('carry a code and a kind, and no HTTP status', () => {
    const error = insufficientFunds();
    expect(error).toMatchObject({ code: 'insufficient_funds', kind: 'refused' });
    expect(error).not.toHaveProperty('statusCode');
  });

  it('take their status from the error handler, by kind', () => {
    expect(errorStatus(insufficientFunds())).toBe(422);
    expect(errorStatus(accountNotFound())).toBe(401);
    expect(errorStatus(reviewerNotAdmin())).toBe(403);
    // The same code can be a different kind: a wrong one-time code at login vs when enrolling.
    expect(errorStatus(unauthorized('wrong', 'invalid_otp'))).toBe(401);
    expect(errorStatus(badRequest('invalid_otp', 'wrong'))).toBe(400);
  });

  it('survive the trip through a Temporal failure, also wrapped in an activity failure', () => {
    const error = badRequest('invalid_otp', 'the one-time code is wrong');
    const failure = toFailure(error);
    expect(failure).toMatchObject({ type: 'invalid_otp', nonRetryable: true });
    expect(failure.details).toEqual([{ code: 'invalid_otp', kind: 'invalid', message: error.message }]);

    const wrapped = new ActivityFailure(
      'failed',
      'debitOrder',
      '1',
      RetryState.NON_RETRYABLE_FAILURE,
      undefined,
      failure,
    );
    for (const arrived of [failure, wrapped]) {
      const back = fromFailure(arrived);
      expect(back).toBeInstanceOf(DomainError);
      expect(back).toMatchObject({ code: 'invalid_otp', kind: 'invalid', message: error.message });
    }
  });

  it('keep the error in the details when the failure is typed and worded for the logs', () => {
    const failure = toFailure(insufficientFunds(), { type: 'UnexpectedData', message: 'unexpected data: x' });
    expect(failure).toMatchObject({ type: 'UnexpectedData', message: 'unexpected data: x' });
    expect(fromFailure(failure)).toMatchObject({
      code: 'insufficient_funds',
      message: 'the wallet balance is too low',
    });
  });

  it('are not read into failures that do not carry one', () => {
    expect(
      fromFailure(ApplicationFailure.create({ type: 'ExchangeRejected', message: 'no' })),
    ).toBeUndefined();
    const unknownCode = ApplicationFailure.create({
      message: 'x',
      details: [{ code: 'made_up', message: 'x' }],
    });
    expect(fromFailure(unknownCode)).toBeUndefined();
    const badKind = ApplicationFailure.create({
      message: 'x',
      details: [{ code: 'insufficient_funds', kind: 'teapot', message: 'x' }],
    });
    expect(fromFailure(badKind)).toMatchObject({ code: 'insufficient_funds', kind: 'refused' });
    expect(fromFailure(new Error('plain'))).toBeUndefined();
  });
});
