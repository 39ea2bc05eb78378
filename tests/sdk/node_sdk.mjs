// node-auth0's legacy AuthenticationClient (database.signUp) against a started latchkey.
// HTTPS with the test CA from NODE_EXTRA_CA_CERTS.
import { AuthenticationClient } from 'auth0/legacy';

const { LK_DOMAIN: domain, LK_CLIENT_ID: clientId, LK_CONNECTION: connection } = process.env;
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

console.log(`node: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
