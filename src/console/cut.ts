// Cutting text for a preview without splitting a character in two (an emoji is two UTF-16 units:
// half of one shows as "\uFFFD"). Used by the console's list views.

/** The first `length` UTF-16 units of `text`, one fewer where the cut would split a surrogate pair. */
export function cut(text: string, length: number): string {
  if (text.length <= length) return text;
  const last = text.charCodeAt(length - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length);
}
