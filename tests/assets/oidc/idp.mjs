// A real OpenID provider for the OIDC sign-in tests (tests/src/idp.rs): panva's
// oidc-provider (a certified implementation, installed from npm by scripts/test, which
// exports its entry point as CW_TEST_OIDC_PROVIDER) with one confidential client —
// cardiowatch's console — and its development login page, where any login name signs in
// as the account of that name (its `sub`; email `<name>@hospital.test`, verified).
//
//   node idp.mjs PORT REDIRECT_URI CLIENT_ID CLIENT_SECRET
//
// PKCE is required of every authorization request, as our api sends it; consent is
// implied for the one first-party client, so the login form is the only page.
// Prints "listening <issuer>" once it serves.
import { generateKeyPairSync } from "node:crypto";
import { pathToFileURL } from "node:url";

const entry = process.env.CW_TEST_OIDC_PROVIDER;
if (!entry) {
  console.error("CW_TEST_OIDC_PROVIDER is not set: run the tests through scripts/test");
  process.exit(2);
}
const { default: Provider } = await import(pathToFileURL(entry).href);
const [port, redirectUri, clientId, clientSecret] = process.argv.slice(2);
if (!port || !redirectUri || !clientId || !clientSecret) {
  console.error("usage: node idp.mjs PORT REDIRECT_URI CLIENT_ID CLIENT_SECRET");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
// A signing key of this run, not the library's published development keys.
const signing = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: { keys: [{ ...signing, kid: "idp-test-1", use: "sig", alg: "RS256" }] },
  pkce: { required: () => true },
  claims: { openid: ["sub"], email: ["email", "email_verified"] },
  cookies: { keys: [signing.d.slice(0, 32)] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@hospital.test`, email_verified: true };
      },
    };
  },
  // The console is a first-party client: no consent page.
  async loadExistingGrant(ctx) {
    if (!ctx.oidc.session.accountId) return undefined;
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email");
    grant.addOIDCClaims(["email", "email_verified"]);
    await grant.save();
    return grant;
  },
});
provider.listen(Number(port), "127.0.0.1", () => console.log(`listening ${issuer}`));
