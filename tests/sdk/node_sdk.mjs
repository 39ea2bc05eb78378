// node-auth0's legacy AuthenticationClient (database.signUp, oauth.*) and UserInfoClient against
// a started latchkey. HTTPS with the test CA from NODE_EXTRA_CA_CERTS.
import { AuthenticationClient, UserInfoClient } from 'auth0/legacy';

const {
  LK_DOMAIN: domain, LK_CLIENT_ID: clientId, LK_CLIENT_SECRET: clientSecret, LK_CONNECTION: connection,
} = process.env;
let passed = 0;
const failures = [];
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`  ok   node: ${name}`); }
  else { failures.push(name); console.log(`  FAIL node: ${name} ${JSON.stringify(detail)}`); }
};

const auth0 = new AuthenticationClient({ domain, clientId });
const email = `node-${Math.random().toString(16).slice(2, 10)}@example.com`;
// auth0@7's legacy entry resolves to {data, headers, status}.
const res = await auth0.database.signUp({ email, password: 'Passw0rd!', connection, user_metadata: { plan: 'gold' } });
const user = res.data;
check('signUp answers 200 with the new user', res.status === 200 && user._id.length === 24 && user.email === email, res);
check('signUp echoes user_metadata', user.user_metadata && user.user_metadata.plan === 'gold', res);

try {
  await auth0.database.signUp({ email, password: 'Passw0rd!', connection });
  check('duplicate signUp rejects', false);
} catch (err) {
  check('duplicate signUp rejects with 400 and the description',
    err.statusCode === 400 && /The user already exists\./.test(err.message), { status: err.statusCode, message: err.message });
}

try {
  await auth0.database.signUp({ email: `x${email}`, password: 'Passw0rd!', connection: 'no-such-connection' });
  check('unknown connection rejects', false);
} catch (err) {
  check('unknown connection rejects with 400', err.statusCode === 400 && /connection does not exist/.test(err.message),
    { status: err.statusCode, message: err.message });
}

// database.changePassword: Auth0's text, for a known and an unknown email alike.
for (const who of [email, `nobody-${email}`]) {
  try {
    const r = await auth0.database.changePassword({ email: who, connection });
    check(`changePassword answers Auth0's text (${who === email ? 'known' : 'unknown'} email)`,
      r.status === 200 && r.data === "We've just sent you an email to reset your password.", { status: r.status, data: r.data });
  } catch (err) {
    check('changePassword answers 200', false, { status: err.statusCode, message: err.message });
  }
}

// Login and tokens. Every id_token below passes node-auth0's own validation (issuer with trailing
// slash, audience, RS256 key fetched from the JWKS by kid) or the call would reject.
const oauth = new AuthenticationClient({ domain, clientId, clientSecret }).oauth;
const attempt = async (name, fn) => {
  try { return await fn(); } catch (err) { check(name, false, { message: err.message, body: err.body }); return null; }
};
const plain = await attempt('passwordGrant without realm (default directory)', () =>
  oauth.passwordGrant({ username: email, password: 'Passw0rd!', scope: 'openid profile email offline_access' }));
if (plain) {
  check('passwordGrant without realm returns validated tokens',
    plain.status === 200 && plain.data.id_token && plain.data.access_token && plain.data.refresh_token, plain.data);
}
const realm = await attempt('passwordGrant with realm', () =>
  oauth.passwordGrant({ username: email, password: 'Passw0rd!', realm: connection, scope: 'openid offline_access' }));
if (realm) check('passwordGrant with realm returns an id_token', realm.status === 200 && !!realm.data.id_token, realm.data);

try {
  await oauth.passwordGrant({ username: email, password: 'wrong-password', realm: connection });
  check('wrong password rejects', false);
} catch (err) {
  check('wrong password rejects with 403 invalid_grant',
    err.statusCode === 403 && err.error === 'invalid_grant' && err.error_description === 'Wrong email or password.',
    { status: err.statusCode, error: err.error });
}

if (plain) {
  const refreshed = await attempt('refreshTokenGrant', () =>
    oauth.refreshTokenGrant({ refresh_token: plain.data.refresh_token }));
  if (refreshed) {
    check('refreshTokenGrant rotates the refresh token and validates the new id_token',
      refreshed.status === 200 && refreshed.data.refresh_token && refreshed.data.refresh_token !== plain.data.refresh_token
        && !!refreshed.data.id_token, refreshed.data);
    const revoked = await attempt('revokeRefreshToken', () =>
      oauth.revokeRefreshToken({ token: refreshed.data.refresh_token }));
    if (revoked) check('revokeRefreshToken answers 200', revoked.status === 200 || revoked.raw?.status === 200, revoked);
    try {
      await oauth.refreshTokenGrant({ refresh_token: refreshed.data.refresh_token });
      check('a revoked refresh token rejects', false);
    } catch (err) {
      check('a revoked refresh token rejects with 403 invalid_grant', err.statusCode === 403 && err.error === 'invalid_grant',
        { status: err.statusCode, error: err.error });
    }
  }
  const info = await attempt('UserInfoClient.getUserInfo', () =>
    new UserInfoClient({ domain }).getUserInfo(plain.data.access_token));
  if (info) check('getUserInfo returns the profile', info.status === 200 && info.data.email === email.toLowerCase(), info.data);
}

// A backend passing its user's IP (auth0-forwarded-for, through initOverrides as node-auth0
// documents; the client is trusted with it): ten failures block that IP for this user only.
const fwdEmail = `node-fwd-${Math.random().toString(16).slice(2, 10)}@example.com`;
await auth0.database.signUp({ email: fwdEmail, password: 'Passw0rd!', connection });
const loginFrom = async (ip, password) => {
  const options = ip ? { initOverrides: { headers: { 'auth0-forwarded-for': ip } } } : undefined;
  try {
    const r = await oauth.passwordGrant({ username: fwdEmail, password, realm: connection }, options);
    return [r.status, null];
  } catch (err) {
    return [err.statusCode, err.error];
  }
};
const failed = [];
for (let i = 0; i < 10; i++) failed.push(await loginFrom('203.0.113.60', 'wrong-password'));
check('ten wrong passwords with auth0-forwarded-for are refused',
  failed.every(([status, error]) => status === 403 && error === 'invalid_grant'), failed);
const blocked = await loginFrom('203.0.113.60', 'Passw0rd!');
check('auth0-forwarded-for: the reported IP is blocked', blocked[0] === 429 && blocked[1] === 'too_many_attempts', blocked);
const other = await loginFrom('203.0.113.61', 'Passw0rd!');
check('auth0-forwarded-for: another reported IP still logs in', other[0] === 200, other);
const own = await loginFrom(null, 'Passw0rd!');
check("auth0-forwarded-for: the backend's own address was not counted", own[0] === 200, own);

const machine = await attempt('clientCredentialsGrant', () =>
  oauth.clientCredentialsGrant({ audience: `https://${domain}/api/v2/` }));
if (machine) {
  const claims = JSON.parse(Buffer.from(machine.data.access_token.split('.')[1], 'base64url').toString());
  check('clientCredentialsGrant returns a machine token', machine.status === 200 && claims.sub === `${clientId}@clients`, claims);
}

console.log(`node: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
