// The default encryption.loadCipher (src/crypto.rs): the package's seal/ (path from snippets/pwa-sync-<hash>/js/).
export async function loadSealModule() {
  const seal = await import("../../../seal/pwa_sync_seal.js");
  await seal.default();
  return seal;
}
