import { chromium, type Browser, type CDPSession, type Page } from 'playwright-core';

/** Debian's Chromium, headless, with nothing that reaches beyond loopback. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/**
 * A CDP virtual authenticator on the page: a platform passkey (resident key) that verifies the
 * user and answers every ceremony without a prompt. Returns the CDP session and authenticator id
 * for tests that inspect or remove credentials.
 */
export async function addPasskeyAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}
