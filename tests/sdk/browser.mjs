// auth0.js in headless Debian Chromium, from a page on another origin: webAuth.signup, then
// webAuth.client.login, client.userInfo and validateToken; allowed when the client lists the
// origin in web_origins, refused (and nothing stored) when not.
import { chromium } from 'playwright-core';

const { LK_DOMAIN: domain, LK_SPA_CLIENT_ID: clientID, LK_CONNECTION: connection,
        PAGE_ALLOWED: allowed, PAGE_REFUSED: refused } = process.env;
let passed = 0;
const failures = [];
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`  ok   browser: ${name}`); }
  else { failures.push(name); console.log(`  FAIL browser: ${name} ${JSON.stringify(detail)}`); }
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--ignore-certificate-errors'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const email = `browser-${Date.now()}@example.com`;
  const cfg = { domain, clientID, connection, email, password: 'Passw0rd!' };

  await page.goto(refused);
  const blocked = await page.evaluate((c) => window.signup(c), cfg);
  check('signup from an origin the client does not list is blocked', blocked.err !== null && blocked.res === null, blocked);

  await page.goto(allowed);
  const ok = await page.evaluate((c) => window.signup(c), cfg);
  // auth0.js camel-cases response keys (`_id` -> `Id`).
  check('signup from a listed origin succeeds', ok.err === null && ok.res && ok.res.email === email, ok);
  check('the refused attempt stored nothing (same email signs up afterwards)', ok.err === null, ok);

  const dup = await page.evaluate((c) => window.signup(c), cfg);
  check('duplicate from the browser reports user_exists', dup.err && dup.err.code === 'user_exists' && dup.err.statusCode === 400, dup);

  const login = await page.evaluate((c) => window.login(c), cfg);
  check('client.login from a listed origin returns tokens', login.step !== 'login' && !!login.tokens?.accessToken, login);
  check('client.userInfo returns the profile', login.step !== 'userInfo' && login.profile?.email === email, login);
  check('validateToken accepts the id_token (RS256, kid from the JWKS, issuer, audience)',
    login.step === 'done' && login.claims?.email === email && login.claims?.aud === clientID, login);
  const wrong = await page.evaluate((c) => window.login(c), { ...cfg, password: 'wrong-password' });
  check('a wrong password reports invalid_grant with Auth0\'s text',
    wrong.step === 'login' && wrong.err?.code === 'invalid_grant' && wrong.err?.description === 'Wrong email or password.', wrong);

  await page.goto(refused);
  const refusedLogin = await page.evaluate((c) => window.login(c), cfg);
  check('client.login from an origin the client does not list is blocked', refusedLogin.step === 'login', refusedLogin);
} finally {
  await browser.close();
}
console.log(`browser: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
