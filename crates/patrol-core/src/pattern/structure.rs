//! Skipping an object or array that no pattern looks into, 64 bytes at a time: each
//! block is classified at once (quotes, backslashes, brackets), escaped quotes and then
//! string interiors are masked out with bit arithmetic (the idea of simdjson's first
//! stage), and the brackets left are counted with popcounts. CloudTrail events spend most
//! of their bytes in such parts (`requestParameters`, `responseElements`,
//! `sessionContext`, `tlsDetails`), so this is most of the reader's work.
//!
//! On x86_64 a block is classified with SSE2 (part of every x86_64 CPU) through the
//! `safe_arch` crate, so this crate keeps `unsafe_code = "forbid"`; elsewhere a plain
//! byte loop gives the same masks (tested equal on random blocks).

/// Position of the first byte at or after `i` that is one of `set`: 16 bytes per step
/// for the short strings JSON is mostly made of, then memchr for long ones.
#[inline(always)]
pub(crate) fn find_any<const N: usize>(b: &[u8], i: usize, set: [u8; N]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    let mut i = i;
    #[cfg(target_arch = "x86_64")]
    for _ in 0..4 {
        let Some(chunk) = b.get(i..i + 16).and_then(|c| <&[u8; 16]>::try_from(c).ok()) else {
            break;
        };
        let m = mask16(chunk, set);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    let rest = b.get(i..)?;
    match set.as_slice() {
        [a] => memchr::memchr(*a, rest),
        [a, c] => memchr::memchr2(*a, *c, rest),
        [a, c, d] => memchr::memchr3(*a, *c, *d, rest),
        _ => rest.iter().position(|c| set.contains(c)),
    }
    .map(|p| i + p)
}

/// Bit `k` set when byte `k` of `chunk` is one of `set`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask16<const N: usize>(chunk: &[u8; 16], set: [u8; N]) -> u32 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let v = load_unaligned_m128i(chunk);
    let mut hits = set_splat_i8_m128i(0);
    for c in set {
        hits = bitor_m128i(
            hits,
            cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(i8::from_ne_bytes([c]))),
        );
    }
    move_mask_i8_m128i(hits) as u32
}

/// The character classes of one block: bit `i` is byte `i`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Classes {
    quote: u64,
    backslash: u64,
    /// `{` and `[`.
    open: u64,
    /// `}` and `]`.
    close: u64,
}

/// Bit `i` set when the number of set bits of `x` at positions `0..=i` is odd.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// The bytes that a backslash escapes in a block, given its backslashes and whether the
/// previous block ended with a backslash that escapes this block's first byte (updated
/// for the next block). A backslash that is itself escaped escapes nothing.
#[inline]
fn escaped(backslash: u64, carry: &mut bool) -> u64 {
    let mut esc = u64::from(*carry);
    *carry = false;
    let mut rest = backslash;
    while rest != 0 {
        let i = rest.trailing_zeros();
        rest &= rest - 1;
        if esc & (1u64 << i) != 0 {
            continue;
        }
        if i == 63 {
            *carry = true;
        } else {
            esc |= 1u64 << (i + 1);
        }
    }
    esc
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify(block: &[u8; 64]) -> Classes {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    let splat = |c: u8| set_splat_i8_m128i(i8::from_ne_bytes([c]));
    let (quote, backslash, open, close, fold) = (
        splat(b'"'),
        splat(b'\\'),
        splat(b'{'),
        splat(b'}'),
        splat(0x20),
    );
    let bits = |m| u64::from(move_mask_i8_m128i(m) as u16);
    let (chunks, _) = block.as_chunks::<16>();
    let v: [_; 4] = std::array::from_fn(|k| load_unaligned_m128i(&chunks[k]));
    let mut c = Classes::default();
    let mut any_backslash = set_splat_i8_m128i(0);
    for (k, v) in v.iter().enumerate() {
        // `[`/`]` are `{`/`}` with bit 5 clear: or-ing 0x20 folds them together, and no
        // other byte folds onto either.
        let f = bitor_m128i(*v, fold);
        let shift = 16 * k;
        c.quote |= bits(cmp_eq_mask_i8_m128i(*v, quote)) << shift;
        c.open |= bits(cmp_eq_mask_i8_m128i(f, open)) << shift;
        c.close |= bits(cmp_eq_mask_i8_m128i(f, close)) << shift;
        any_backslash = bitor_m128i(any_backslash, cmp_eq_mask_i8_m128i(*v, backslash));
    }
    // Most blocks have no backslash: one test says so.
    if move_mask_i8_m128i(any_backslash) != 0 {
        for (k, v) in v.iter().enumerate() {
            c.backslash |= bits(cmp_eq_mask_i8_m128i(*v, backslash)) << (16 * k);
        }
    }
    c
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify(block: &[u8; 64]) -> Classes {
    classify_bytes(block)
}

/// [`classify`] a byte at a time: the portable form, and the reference in tests.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn classify_bytes(block: &[u8; 64]) -> Classes {
    let mut c = Classes::default();
    for (i, b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match b {
            b'"' => c.quote |= bit,
            b'\\' => c.backslash |= bit,
            b'{' | b'[' => c.open |= bit,
            b'}' | b']' => c.close |= bit,
            _ => {}
        }
    }
    c
}

/// For `at` on a `{` or `[` outside any string: the position just past its matching
/// bracket, or `None` if the text ends first. Bracket kinds are not paired up and the
/// text between is not otherwise checked: skipped parts are checked for balanced
/// brackets and terminated strings only.
pub(crate) fn container_end(b: &[u8], at: usize) -> Option<usize> {
    let mut carry = false;
    let mut in_string = 0u64;
    let mut depth = 0usize;
    let mut base = at;
    loop {
        let c = match b.get(base..base + 64) {
            Some(s) => classify(s.try_into().ok()?),
            None => {
                let rest = b.get(base..).filter(|r| !r.is_empty())?;
                // Spaces are in no class.
                let mut last = [b' '; 64];
                last[..rest.len()].copy_from_slice(rest);
                classify(&last)
            }
        };
        let quotes = if c.backslash == 0 && !carry {
            c.quote
        } else {
            c.quote & !escaped(c.backslash, &mut carry)
        };
        // Inside a string: from its opening quote up to (not including) its closing one.
        let inside = prefix_xor(quotes) ^ in_string;
        in_string = 0u64.wrapping_sub(inside >> 63);
        let mut open = c.open & !inside;
        let mut close = c.close & !inside;
        // The brackets of this block in order: opens before the next close nest deeper.
        while close != 0 {
            let at = close.trailing_zeros();
            let before = open & ((1u64 << at) - 1);
            depth += before.count_ones() as usize;
            open &= !before;
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                return Some(base + at as usize + 1);
            }
            close &= close - 1;
        }
        depth += open.count_ones() as usize;
        base += 64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`container_end`] a byte at a time.
    fn container_end_bytes(b: &[u8], at: usize) -> Option<usize> {
        let (mut depth, mut in_str, mut esc) = (0usize, false, false);
        for (i, &c) in b.iter().enumerate().skip(at) {
            // A backslash escapes the next byte wherever it is (outside strings the text
            // is invalid JSON anyway; the two only need to agree).
            let escaped_here = esc;
            esc = !escaped_here && c == b'\\';
            if c == b'"' && !escaped_here {
                in_str = !in_str;
            } else if !in_str && matches!(c, b'{' | b'[') {
                depth += 1;
            } else if !in_str && matches!(c, b'}' | b']') {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
        }
        None
    }

    proptest! {
        #[test]
        fn vector_and_byte_classes_agree(block in proptest::collection::vec(
            prop_oneof![Just(b'"'), Just(b'\\'), Just(b'{'), Just(b'['), Just(b'}'),
                Just(b']'), Just(b'a'), Just(b' '), Just(0xFB), Just(0xDB), Just(0x7F),
                any::<u8>()],
            64,
        )) {
            let block: [u8; 64] = block.try_into().expect("64 bytes");
            prop_assert_eq!(classify(&block), classify_bytes(&block));
        }

        #[test]
        fn block_and_byte_skips_agree(text in proptest::collection::vec(
            prop_oneof![3 => Just(b'"'), 2 => Just(b'\\'), 2 => Just(b'{'), 2 => Just(b'}'),
                1 => Just(b'['), 1 => Just(b']'), 6 => Just(b'a')],
            1..400,
        ), start in 0usize..8) {
            let mut text = text;
            let at = start.min(text.len() - 1);
            text[at] = b'{';
            prop_assert_eq!(container_end(&text, at), container_end_bytes(&text, at));
        }
    }

    proptest! {
        #[test]
        fn find_any_finds_the_first(text in proptest::collection::vec(
            prop_oneof![1 => Just(b'"'), 1 => Just(b'\\'), 1 => Just(b'.'), 1 => Just(0), 30 => Just(b'a'), 1 => Just(0xA2)],
            0..400,
        ), from in 0usize..410) {
            let first = |set: &[u8]| text.get(from..).and_then(|r| r.iter().position(|c| set.contains(c))).map(|p| from + p);
            prop_assert_eq!(find_any(&text, from, [b'"']), first(b"\""));
            prop_assert_eq!(find_any(&text, from, [b'"', b'\\']), first(b"\"\\"));
            prop_assert_eq!(find_any(&text, from, [b'"', b'\\', b'.']), first(b"\"\\."));
        }
    }

    #[test]
    fn escapes_across_blocks() {
        // A run of backslashes ending at byte 63 escapes the quote at byte 64 when odd.
        for run in 1..6usize {
            let mut text = b"{\"".to_vec();
            text.resize(64 - run, b'a');
            text.extend(std::iter::repeat_n(b'\\', run));
            text.extend_from_slice(b"\"}\"}");
            let want = if run % 2 == 1 { 68 } else { 66 };
            assert_eq!(container_end(&text, 0), Some(want), "run {run}");
            assert_eq!(container_end_bytes(&text, 0), Some(want), "run {run}");
        }
    }

    #[test]
    fn container_ends() {
        let text = br#"{"a":[1,{"b":"}]"},[]],"c":{}} {"#;
        assert_eq!(container_end(text, 0), Some(30));
        assert_eq!(container_end(text, 5), Some(22));
        assert_eq!(container_end(text, 27), Some(29));
        assert_eq!(container_end(text, 31), None);
        let mut long = vec![b'['; 100];
        long.extend(vec![b']'; 100]);
        assert_eq!(container_end(&long, 0), Some(200));
        assert_eq!(container_end(&long, 99), Some(101));
        assert_eq!(container_end(b"{\"}", 0), None);
    }
}
