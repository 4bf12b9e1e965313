/** A throwaway GCS service account made per test run: its JSON and its public key. */

function pem(label: string, der: ArrayBuffer): string {
  const base64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN ${label}-----\n${
    base64.match(/.{1,64}/g)!.join("\n")
  }\n-----END ${label}-----\n`;
}

/** A generated service account, as `GCS_CREDENTIALS` holds it. */
export interface TestServiceAccount {
  json: string;
  clientEmail: string;
  privateKeyPem: string;
  publicKey: CryptoKey;
}

/** Makes a service account with a fresh RSA key pair. */
export async function makeServiceAccount(): Promise<TestServiceAccount> {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const privateKeyPem = pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const clientEmail = `recorder-${
    crypto.randomUUID().slice(0, 8)
  }@test-project.iam.gserviceaccount.com`;
  const json = JSON.stringify({
    type: "service_account",
    project_id: "test-project",
    private_key_id: crypto.randomUUID().replaceAll("-", ""),
    private_key: privateKeyPem,
    client_email: clientEmail,
    client_id: "1",
    token_uri: "https://oauth2.googleapis.com/token",
  });
  return { json, clientEmail, privateKeyPem, publicKey: pair.publicKey };
}
