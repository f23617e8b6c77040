// Random base64 text: even compressed it stays about as large as it is, so a test can make a value
// that is too large for its row however it is stored. Used by the large-request and tenant-scope tests.

/** `chars` random base64 characters. */
export function randomText(chars: number): string {
  const bytes = new Uint8Array(Math.ceil((chars * 3) / 4));
  for (let start = 0; start < bytes.length; start += 65_536)
    crypto.getRandomValues(bytes.subarray(start, start + 65_536));
  let binary = "";
  for (let start = 0; start < bytes.length; start += 8192)
    binary += String.fromCharCode(...bytes.subarray(start, start + 8192));
  return btoa(binary).slice(0, chars);
}
