import { useState } from 'react';
import { isForbidden, isStepUpRequired } from '../api/client.js';
import { flow } from '../auth/storage.js';
import { Button } from '../ui/controls.js';
import { Dialog } from '../ui/dialog.js';
import { useSession } from './session.js';

/**
 * High-risk calls (role grants, matrix changes, invitations; ID-7). The server answers
 * `step-up-required` when the token's passkey sign-in is older than the route allows. The fix is
 * a fresh passkey sign-in at the provider (only a DPoP-bound token carries the proof), which
 * leaves the page: the call waits in sessionStorage (what to send, never a credential) and runs
 * once when the dashboard comes back signed in.
 */
export type HighRiskCall = { method: string; path: string; body?: unknown; label: string; resource?: string; action?: string };

export function useHighRisk() {
  const { api, auth, markDenied } = useSession();
  const [stepUp, setStepUp] = useState<HighRiskCall | null>(null);

  async function run<T>(call: HighRiskCall): Promise<T> {
    try {
      return await api.send<T>(call.method, call.path, call.body);
    } catch (error) {
      if (isStepUpRequired(error)) setStepUp(call);
      if (isForbidden(error) && call.resource && call.action) markDenied(call.resource, call.action);
      throw error;
    }
  }

  const confirm = () => {
    if (!stepUp) return;
    const returnTo = `${window.location.pathname}${window.location.search}`;
    flow.setPendingAction({ method: stepUp.method, path: stepUp.path, body: stepUp.body, label: stepUp.label, returnTo, createdAt: Date.now() });
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
        <strong>{stepUp?.label}</strong> is a high-risk change. Rampart needs a passkey sign-in from the last five minutes. You will sign in again with your passkey and come straight back; the change is then sent once.
      </p>
    </Dialog>
  );

  return { run, dialog, isStepUpPending: stepUp !== null };
}
