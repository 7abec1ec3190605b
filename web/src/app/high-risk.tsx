import { useState } from 'react';
import { isForbidden, isStepUpRequired } from '../api/client.js';
import { flow, type PendingCall } from '../auth/storage.js';
import { Button } from '../ui/controls.js';
import { Dialog } from '../ui/dialog.js';
import { useSession } from './session.js';

/**
 * High-risk calls (role grants, matrix changes, invitations; ID-7). The server answers
 * `step-up-required` when the token's passkey sign-in is older than the route allows. The fix is
 * a fresh passkey sign-in at the provider (only a DPoP-bound token carries the proof), which
 * leaves the page: the calls wait in sessionStorage (what to send, never a credential) and run
 * once, in order, when the dashboard comes back signed in.
 */
// control: ID-7, AZ-5
export type HighRiskCall = PendingCall & { label: string; resource?: string; action?: string };

export function useHighRisk() {
  const { api, auth, markDenied } = useSession();
  const [stepUp, setStepUp] = useState<{ calls: PendingCall[]; label: string } | null>(null);

  /** Sends the calls in order; on a step-up refusal, offers the passkey sign-in for those not yet sent. */
  async function runAll<T>(calls: HighRiskCall[], label: string): Promise<T[]> {
    const results: T[] = [];
    for (const [index, call] of calls.entries()) {
      try {
        results.push(await api.send<T>(call.method, call.path, call.body));
      } catch (error) {
        if (isStepUpRequired(error)) setStepUp({ calls: calls.slice(index).map(({ method, path, body }) => ({ method, path, body })), label });
        if (isForbidden(error) && call.resource && call.action) markDenied(call.resource, call.action);
        throw error;
      }
    }
    return results;
  }
  const run = async <T,>(call: HighRiskCall): Promise<T> => (await runAll<T>([call], call.label))[0]!;

  const confirm = () => {
    if (!stepUp) return;
    const returnTo = `${window.location.pathname}${window.location.search}`;
    flow.setPendingAction({ calls: stepUp.calls, label: stepUp.label, returnTo, createdAt: Date.now() });
    void auth.reauthenticate(returnTo);
  };

  const dialog = (
    <Dialog
      open={stepUp !== null}
      onClose={() => setStepUp(null)}
      title="Confirm with your passkey"
      footer={
        <>
          <Button onClick={() => setStepUp(null)}>Cancel</Button>
          <Button variant="primary" onClick={confirm} data-testid="step-up-confirm">
            Continue with passkey
          </Button>
        </>
      }
    >
      <p className="text-sm">
        <strong>{stepUp?.label}</strong> is a high-risk change. Rampart needs a passkey sign-in from the last five minutes: you sign in again with your passkey and come straight back, and the change is then sent once.
      </p>
    </Dialog>
  );

  return { run, runAll, dialog };
}
