// The hosted login in headless Chromium, driven by real clients: auth0-spa-js 2.x from a page
// on another origin (loginWithRedirect for signup and login, handleRedirectCallback, getUser,
// getTokenSilently through the hidden iframe and with refresh tokens, logout, silent auth
// failing after it), and express-openid-connect 3.x as regular web apps (code flow with a
// secret; id_token + form_post), login and logout; auth0.js 9.x webAuth.authorize (implicit),
// parseHash and checkSession. Screenshots of every page at desktop and
// phone widths go to $SCREENSHOTS.
import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';

const { LK_DOMAIN: domain, LK_SPA_CLIENT_ID: clientId, SPA: spa, RP_CODE: rpCode,
        RP_IMPLICIT: rpImplicit, SCREENSHOTS: shots } = process.env;
let passed = 0;
const failures = [];
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`  ok   hosted: ${name}`); }
  else { failures.push(name); console.log(`  FAIL hosted: ${name} ${JSON.stringify(detail)}`); }
};
mkdirSync(shots, { recursive: true });

// A fresh profile that allows third-party cookies, as desktop Chrome does by default: the
// silent-auth iframe (latchkey) is another site than the app.
const profile = mkdtempSync(join(tmpdir(), 'lk-chromium-'));
mkdirSync(join(profile, 'Default'), { recursive: true });
writeFileSync(join(profile, 'Default', 'Preferences'),
  JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  ignoreHTTPSErrors: true,
  viewport: { width: 1280, height: 800 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-features=ThirdPartyStoragePartitioning,TrackingProtection3pcd'],
});

const snap = async (page, name) => {
  await page.screenshot({ path: join(shots, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
};

const email = `spa-${Date.now()}@example.com`;
const password = 'Passw0rd!';
try {
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  (page console) ${m.text()}`); });
  page.on('pageerror', (e) => console.log(`  (page error) ${e.message}`));
  const spaCall = (op, arg) => page.evaluate(([o, a]) => window.spa(o, a), [op, arg]);
  const afterRedirect = async () => {
    await page.waitForURL((u) => u.toString().startsWith(spa));
    return page.evaluate(() => window.callback);
  };

  // Signup through the hosted page (screen_hint: 'signup').
  await page.goto(spa);
  await spaCall('configure', { domain, clientId, refresh: false });
  const started = await spaCall('login', { screen_hint: 'signup' }).catch((e) => ({ ok: true, navigated: e.message }));
  await page.waitForURL(/\/u\/signup\?state=/, { timeout: 10000 }).catch(() => {});
  check('loginWithRedirect opens the signup page', page.url().includes('/u/signup'), { started, url: page.url() });
  await snap(page, 'signup');
  await page.fill('#email', email);
  await page.fill('#password', 'weak');
  await page.click('button[type=submit][name=action][value=default]');
  const weak = await page.textContent('#error-element-password').catch(() => null);
  check('the signup page refuses a weak password with the policy text', weak === 'Password is too weak', weak);
  await snap(page, 'signup-error');
  await page.fill('#password', password);
  await page.click('button[name=action][value=default]');
  let cb = await afterRedirect();
  check('signup: handleRedirectCallback and getUser', cb?.ok && cb.user?.email === email, cb);

  // Silent authentication through the hidden iframe (prompt=none, web_message).
  const silent = await spaCall('silent');
  check('getTokenSilently({cacheMode:"off"}) through the iframe', silent.ok && !!silent.token?.access_token && !!silent.token?.id_token, silent);

  // Logout back to the app; silent auth then fails with login_required.
  await Promise.all([page.waitForURL((u) => u.toString() === `${spa}/`), spaCall('logout')]);
  check('logout returns to the app', page.url() === `${spa}/`, page.url());
  const after = await spaCall('silent');
  check('silent auth after logout fails with login_required', !after.ok && after.error === 'login_required', after);

  // Login through the hosted page, with refresh tokens this time.
  await spaCall('configure', { domain, clientId, refresh: true });
  await Promise.all([page.waitForURL(/\/u\/login\?state=/), spaCall('login')]);
  await snap(page, 'login');
  await page.fill('#username', email);
  await page.fill('#password', 'wrong-password');
  await page.click('button[type=submit][name=action][value=default]');
  const wrong = await page.textContent('#error-element-password').catch(() => null);
  check('a wrong password shows Auth0\'s text on the page', wrong === 'Wrong email or password.', wrong);
  await snap(page, 'login-error');
  await page.fill('#password', password);
  await page.click('button[type=submit][name=action][value=default]');
  cb = await afterRedirect();
  check('login: handleRedirectCallback and getUser', cb?.ok && cb.user?.email === email, cb);
  const refreshed = await spaCall('silent');
  check('getTokenSilently with useRefreshTokens', refreshed.ok && !!refreshed.token?.access_token, refreshed);

  // The pages a user may meet besides: an error and the logged-out page.
  await page.goto(`https://${domain}/authorize?client_id=${clientId}&response_type=code&redirect_uri=https://evil.example/`);
  check('an unlisted redirect_uri shows an error page', (await page.textContent('h1')) === 'Something went wrong');
  await snap(page, 'error');
  await page.goto(`https://${domain}/v2/logout`);
  await snap(page, 'logged-out');

  // Regular web apps on express-openid-connect.
  for (const [name, rp] of [['code flow with a secret', rpCode], ['id_token + form_post', rpImplicit]]) {
    await page.goto(`${rp}/login`);
    await page.waitForURL(/\/u\/login\?state=/);
    await page.fill('#username', email);
    await page.fill('#password', password);
    await page.click('button[type=submit][name=action][value=default]');
    await page.waitForURL((u) => u.toString() === `${rp}/`);
    let state = JSON.parse(await page.textContent('body'));
    check(`express-openid-connect (${name}): logged in`, state.authenticated && state.user?.email === email, state);
    await page.goto(`${rp}/logout`);
    await page.waitForURL((u) => u.toString() === `${rp}/`);
    state = JSON.parse(await page.textContent('body'));
    check(`express-openid-connect (${name}): logged out through /oidc/logout`, state.authenticated === false, state);
  }

  // auth0.js 9.x: webAuth.authorize (implicit) through the login page, parseHash, checkSession.
  const legacy = { domain, clientID: process.env.LK_LEGACY_CLIENT_ID };
  await page.goto(process.env.PAGE_ALLOWED);
  await Promise.all([page.waitForURL(/\/u\/login\?state=/), page.evaluate((c) => window.authorize(c), legacy)]);
  await page.fill('#username', email);
  await page.fill('#password', password);
  await page.click('button[type=submit][name=action][value=default]');
  await page.waitForURL((u) => u.toString().startsWith(process.env.PAGE_ALLOWED) && u.hash.includes('access_token'));
  const parsed = await page.evaluate(() => window.parsed);
  check('auth0.js authorize + parseHash validates the id_token', parsed && !parsed.err && parsed.email === email && parsed.accessToken, parsed);
  const session = await page.evaluate((c) => window.checkSession(c), legacy);
  check('auth0.js checkSession answers from the session', !session.err && session.email === email, session);
  await page.goto(`https://${domain}/v2/logout`);
  await page.goto(process.env.PAGE_ALLOWED);
  const gone = await page.evaluate((c) => window.checkSession(c), legacy);
  check('auth0.js checkSession after logout: login_required', gone.err?.error === 'login_required', gone);

  // Password reset: auth0.js webAuth.changePassword from the app, the link from the outbox
  // (GET /api/v2/emails with a management token), then the reset page.
  const changed = await page.evaluate((c) => new Promise((resolve) => new auth0.WebAuth({ domain: c.domain, clientID: c.clientID })
    .changePassword({ connection: 'Username-Password-Authentication', email: c.email }, (err, res) => resolve({ err, res }))),
    { ...legacy, email });
  check('auth0.js changePassword answers Auth0\'s text', !changed.err && changed.res === "We've just sent you an email to reset your password.", changed);
  const tokenRes = await fetch(`https://${domain}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: 'sdk-backend', client_secret: process.env.LK_BACKEND_SECRET,
      audience: `https://${domain}/api/v2/`, scope: 'read:emails' }) });
  const mgmt = (await tokenRes.json()).access_token;
  let link = null;
  for (let i = 0; i < 50 && !link; i++) {
    // The email is queued just after the answer: a bounded wait for it to appear.
    const mail = await (await fetch(`https://${domain}/api/v2/emails?to=${encodeURIComponent(email)}`, { headers: { authorization: `Bearer ${mgmt}` } })).json();
    link = mail[0]?.body_text.match(/https:\/\/\S+reset-password\?ticket=\w+/)?.[0];
    if (!link) await new Promise((r) => setTimeout(r, 100));
  }
  check('the reset email is in the outbox with its link', !!link, link);
  await page.goto(link);
  await snap(page, 'reset-password');
  await page.fill('#password', 'short');
  await page.fill('#password-confirmation', 'short');
  await page.click('button[type=submit][name=action][value=default]');
  const tooWeak = await page.textContent('#error-element-password').catch(() => null);
  check('the reset page refuses a weak password with the policy text', tooWeak === 'Password is too weak', tooWeak);
  await snap(page, 'reset-password-error');
  // The connection keeps a password history (size 3): the current password is in it.
  await page.fill('#password', password);
  await page.fill('#password-confirmation', password);
  await page.click('button[type=submit][name=action][value=default]');
  const reused = await page.textContent('#error-element-password').catch(() => null);
  check('the reset page refuses a password from the history with Auth0\'s text', reused === 'Password has previously been used', reused);
  await snap(page, 'reset-password-history');
  await page.fill('#password', 'N3w-Passw0rd!');
  await page.fill('#password-confirmation', 'N3w-Passw0rd!');
  await page.click('button[type=submit][name=action][value=default]');
  check('the reset page accepts a strong password', (await page.textContent('h1')) === 'Password changed');
  await snap(page, 'reset-password-done');
  const reopened = await page.goto(link);
  check('the link is single-use: "This link has expired", 400',
    reopened.status() === 400 && (await page.textContent('h1')) === 'This link has expired', reopened.status());
  const login = async (pw) => (await fetch(`https://${domain}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'http://auth0.com/oauth/grant-type/password-realm', realm: 'Username-Password-Authentication',
      client_id: 'sdk-backend', client_secret: process.env.LK_BACKEND_SECRET, username: email, password: pw }) })).status;
  const [oldStatus, newStatus] = [await login(password), await login('N3w-Passw0rd!')];
  check('after the reset the old password fails and the new one logs in', oldStatus === 403 && newStatus === 200, { oldStatus, newStatus });

  // An expired link: a second request's ticket, aged past its lifetime in the store (the
  // binary's clock is real; five days cannot be waited for).
  await page.goto(process.env.PAGE_ALLOWED);
  await page.evaluate((c) => new Promise((resolve) => new auth0.WebAuth({ domain: c.domain, clientID: c.clientID })
    .changePassword({ connection: 'Username-Password-Authentication', email: c.email }, () => resolve())), { ...legacy, email });
  let second = null;
  for (let i = 0; i < 50 && !second; i++) {
    const mail = await (await fetch(`https://${domain}/api/v2/emails?to=${encodeURIComponent(email)}`, { headers: { authorization: `Bearer ${mgmt}` } })).json();
    second = mail.map((m) => m.body_text.match(/https:\/\/\S+reset-password\?ticket=\w+/)?.[0]).find((l) => l && l !== link);
    if (!second) await new Promise((r) => setTimeout(r, 100));
  }
  execFileSync('python3', ['-c', 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("UPDATE tickets SET expires_at = 1 WHERE used_at IS NULL"); c.commit()', process.env.LK_DB]);
  const expired = await page.goto(second);
  check('an expired link: "This link has expired", 400',
    expired.status() === 400 && (await page.textContent('h1')) === 'This link has expired', expired.status());
  await snap(page, 'reset-password-expired');
} catch (e) {
  failures.push(`exception: ${e.message}`);
  console.log(`  FAIL hosted: ${e.stack}`);
  for (const p of context.pages()) console.log(`  (at ${p.url()}: ${(await p.textContent("body").catch(() => "")).slice(0, 300)})`);
} finally {
  await context.close();
}
console.log(`hosted: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
