import type { Transaction } from 'kysely';
import { systemClock, type Clock } from '../core/index.js';
import type { Alert, AuditEvent, Schema } from '../db/index.js';
import { builtInAlertRules, evaluateAlerts, type AlertRule } from './alerts.js';
import { recordAudit, type AuditInput } from './record.js';

/** The audit service other modules receive from the composition root. */
export type AuditLog = {
  /** Appends the event (and any alerts it raises) in the caller's transaction. */
  record(trx: Transaction<Schema>, input: AuditInput): Promise<{ event: AuditEvent; alerts: Alert[] }>;
};

export function createAuditLog({ clock = systemClock, rules = builtInAlertRules() }: { clock?: Clock; rules?: AlertRule[] } = {}): AuditLog {
  return {
    async record(trx, input) {
      const event = await recordAudit(trx, input, clock);
      const alerts = await evaluateAlerts(trx, event, rules, clock);
      return { event, alerts };
    },
  };
}
