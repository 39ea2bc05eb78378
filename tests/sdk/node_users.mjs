// node-auth0 7.x ManagementClient({domain, clientId, clientSecret}) against a started latchkey:
// users.create / get / update / delete, users.list with q and include_totals (the SDK's
// default) paged through with its own iterator, listUsersByEmail, and Auth0's errors as the
// SDK's typed error: 404, 409, a weak password, a missing scope. A created user logs in.
import { ManagementClient } from 'auth0';
import { AuthenticationClient } from 'auth0/legacy';

const { LK_DOMAIN: domain, LK_CLIENT_ID: clientId, LK_CLIENT_SECRET: clientSecret, LK_CONNECTION: connection,
  LK_READER_ID: readerId, LK_READER_SECRET: readerSecret } = process.env;
let passed = 0;
const failures = [];
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`  ok   node-users: ${name}`); }
  else { failures.push(name); console.log(`  FAIL node-users: ${name} ${JSON.stringify(detail)}`); }
};
const rejects = async (name, fn, status, code) => {
  try {
    await fn();
    check(name, false, 'resolved');
  } catch (err) {
    check(name, err.statusCode === status && (!code || err.body?.errorCode === code || err.body?.message === code),
      { status: err.statusCode, body: err.body });
  }
};
const management = new ManagementClient({ domain, clientId, clientSecret });

try {
  const stamp = Date.now();
  const email = (i) => `mgmt-${stamp}-${i}@example.com`;
  const created = await management.users.create({ connection, email: email(0), password: 'Passw0rd!',
    user_metadata: { theme: 'dark' }, app_metadata: { plan: 'pro' }, verify_email: false });
  check('users.create answers the user', created.user_id?.startsWith('auth0|') && created.email === email(0)
    && created.app_metadata?.plan === 'pro' && created.identities?.[0]?.connection === connection, created);
  const read = await management.users.get(created.user_id);
  check('users.get reads it back', read.email === email(0) && read.user_metadata?.theme === 'dark', read);
  const updated = await management.users.update(created.user_id, { user_metadata: { theme: null, lang: 'fr' }, name: 'Mgmt User' });
  check('users.update merges metadata (null removes)', JSON.stringify(updated.user_metadata) === '{"lang":"fr"}'
    && updated.name === 'Mgmt User', updated);
  const login = await new AuthenticationClient({ domain, clientId, clientSecret }).oauth.passwordGrant({
    username: email(0), password: 'Passw0rd!', realm: connection });
  check('the created user logs in', !!login.data.access_token, login.status);
  for (let i = 1; i <= 4; i++) {
    await management.users.create({ connection, email: email(i), password: 'Passw0rd!', verify_email: false });
  }
  const page = await management.users.list({ q: `email:mgmt-${stamp}-*`, per_page: 2, sort: 'email:1' });
  const seen = [];
  for await (const u of page) seen.push(u.email);
  check('users.list pages through every result with the SDK iterator', JSON.stringify(seen)
    === JSON.stringify([0, 1, 2, 3, 4].map(email)), seen);
  const byEmail = await management.users.listUsersByEmail({ email: email(3).toUpperCase() });
  check('listUsersByEmail finds the user, case-insensitively', byEmail.length === 1 && byEmail[0].email === email(3), byEmail);
  await rejects('a duplicate create rejects with 409', () => management.users.create({ connection, email: email(0),
    password: 'Passw0rd!' }), 409, 'auth0_idp_error');
  await rejects('a weak password rejects with 400 and Auth0\'s text', () => management.users.create({ connection,
    email: email(9), password: 'abc' }), 400, 'PasswordStrengthError: Password is too weak');
  await management.users.delete(created.user_id);
  await rejects('a deleted user is a 404', () => management.users.get(created.user_id), 404, 'inexistent_user');
  await rejects('a bad q is a 400 invalid_query_string', async () => {
    const p = await management.users.list({ q: 'email:"unclosed' });
    for await (const _ of p) { /* drain */ }
  }, 400, 'invalid_query_string');
  const reader = new ManagementClient({ domain, clientId: readerId, clientSecret: readerSecret });
  await rejects('a missing scope rejects with 403', () => reader.users.delete(`auth0|x${stamp}`), 403, 'insufficient_scope');
} catch (e) {
  failures.push(`exception: ${e.message}`);
  console.log(`  FAIL node-users: ${e.stack} ${JSON.stringify(e.body ?? '')}`);
}
console.log(`node-users: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
