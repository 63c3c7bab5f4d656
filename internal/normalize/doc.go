// Package normalize turns untrusted text into the canonical form the
// detection rules match against, and remembers where every byte of that
// form came from in the original.
//
// Attackers hide instructions from people while keeping them readable to a
// model: zero-width and bidi characters, Unicode tag characters that carry
// invisible ASCII, variation-selector smuggling, terminal escapes, HTML
// comments, look-alike letters and encoded payloads. [Normalize] undoes
// each trick and reports it:
//
//   - ANSI/OSC/DCS terminal escape sequences and other control characters
//     are removed and reported;
//   - HTML character references (&lt; &#x200b; ...) are decoded in place,
//     so an escaped zero-width character is treated like a literal one;
//   - hidden characters (zero-width, bidi controls, tags U+E0000–E007F,
//     variation selectors, other Cf/Cc) are removed and reported; runs of
//     tag characters and variation selectors are decoded into the bytes
//     they smuggle and scanned as a [Layer];
//   - the rest is put in NFKC, confusable look-alike letters are folded to
//     ASCII, and the result is lower-cased;
//   - HTML comments and markdown hiding tricks are reported as hidden
//     regions (their content stays in the text so rules still see it);
//   - base64, hex, URL-encoded and \u-escaped payloads are decoded and
//     normalized again, to a bounded depth and within a byte budget.
//
// [Text.OrigSpan] maps any span of the normalized text back to the
// original bytes, so a finding always quotes what the author wrote.
//
// Normalize never fails: input that exhausts a budget is still normalized,
// and the decoding that did not happen is recorded in [Text.Truncated].
package normalize
