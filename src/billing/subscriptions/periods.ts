import { roundDiv } from '../money/index.js';

/**
 * Billing periods and proration (BI-5).
 *
 * Periods are calendar months or years in UTC, anchored on the start day: a period starting on
 * the 31st ends on the last day of a shorter month (Jan 31 -> Feb 28 -> Mar 31 keeps the anchor).
 *
 * Proration is by the second, as Stripe documents it. For a change at time t inside the period
 * [start, end):
 *   remaining = end − t (whole seconds), length = end − start (whole seconds)
 *   credit for the old price = −round(old_amount × remaining / length)
 *   charge for the new price = +round(new_amount × remaining / length)
 * each rounded once, half away from zero (`roundDiv`). old/new_amount are the full-period
 * amounts of the price at the quantity (before and after the change).
 */

export function addInterval(start: Date, interval: 'month' | 'year', anchorDay = start.getUTCDate()): Date {
  const months = interval === 'year' ? 12 : 1;
  const year = start.getUTCFullYear();
  const month = start.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(Date.UTC(year, month, Math.min(anchorDay, lastDay), start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds(), start.getUTCMilliseconds()));
}

export const seconds = (from: Date, to: Date): bigint => BigInt(Math.floor((to.getTime() - from.getTime()) / 1000));

export type Proration = { remainingSeconds: bigint; periodSeconds: bigint; credit: bigint; charge: bigint };

export function prorate({ periodStart, periodEnd, at, oldAmount, newAmount }: { periodStart: Date; periodEnd: Date; at: Date; oldAmount: bigint; newAmount: bigint }): Proration {
  const periodSeconds = seconds(periodStart, periodEnd);
  if (periodSeconds <= 0n) throw new RangeError('empty period');
  const clamped = at < periodStart ? periodStart : at > periodEnd ? periodEnd : at;
  const remainingSeconds = seconds(clamped, periodEnd);
  return {
    remainingSeconds,
    periodSeconds,
    credit: -roundDiv(oldAmount * remainingSeconds, periodSeconds),
    charge: roundDiv(newAmount * remainingSeconds, periodSeconds),
  };
}
