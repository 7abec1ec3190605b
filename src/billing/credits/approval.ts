import type { CreditRequestRow } from '../types.js';

declare const approvedByASecondPerson: unique symbol;

/**
 * Proof that a credit-like request (BI-3) was approved by someone other than its requester.
 * Only `decideCredit` mints one (the brand cannot be written elsewhere without a cast), and every
 * operation that creates value takes one as a parameter: a route or CLI command that wants to
 * credit, void, write off or refund above the threshold has no other way in.
 */
export type CreditApproval = {
  readonly request: CreditRequestRow;
  readonly approvedBy: string;
  readonly [approvedByASecondPerson]: true;
};

export const mintApproval = (request: CreditRequestRow, approvedBy: string): CreditApproval => ({ request, approvedBy }) as CreditApproval;
