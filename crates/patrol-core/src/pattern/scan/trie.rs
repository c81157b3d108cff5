//! The trie of field paths the scanner walks: paths split at dots (so `{"a.b": 1}` and
//! `{"a": {"b": 1}}` reach the same node), children found by a one-word tag of their key
//! and a 64-bit bloom filter per node.

use rustc_hash::FxHashMap;

use super::{ONES, load8, zero_bytes};

/// Whether a key has a dot (then it spans several trie levels).
#[inline]
pub(super) fn has_dot(key: &[u8]) -> bool {
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        if zero_bytes(v ^ (ONES * u64::from(b'.'))) != 0 {
            return true;
        }
    }
    chunks.remainder().contains(&b'.')
}

/// A key's length and first seven bytes in one word: equal tags and a length of at most
/// seven mean equal keys.
#[inline]
pub(super) fn tag(key: &[u8]) -> u64 {
    let len = (key.len().min(255) as u64) << 56;
    if let Some(v) = load8(key, 0) {
        return (v & 0x00FF_FFFF_FFFF_FFFF) | len;
    }
    let mut buf = [0u8; 8];
    for (d, s) in buf.iter_mut().zip(key) {
        *d = *s;
    }
    u64::from_le_bytes(buf) | len
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TrieNode {
    /// Few children: a linear scan over [`tag`]s beats hashing short keys.
    pub(super) children: Vec<(u64, Box<[u8]>, u32)>,
    pub(super) map: Option<FxHashMap<Box<[u8]>, u32>>,
    /// One bit per child tag ([`tag_bit`]): most keys of an event name no child, and this
    /// says so without looking at the children.
    pub(super) bloom: u64,
    pub(crate) field: Option<u32>,
}

/// Which bit of [`TrieNode::bloom`] a key tag sets.
#[inline(always)]
pub(super) fn tag_bit(t: u64) -> u64 {
    1u64 << (t.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
}

/// Field paths split at dots, so `{"a.b": 1}` and `{"a": {"b": 1}}` reach the same node.
#[derive(Debug, Clone)]
pub(crate) struct Trie {
    pub(super) nodes: Vec<TrieNode>,
}

impl Trie {
    pub(crate) fn new() -> Trie {
        Trie {
            nodes: vec![TrieNode::default()],
        }
    }

    pub(crate) fn insert(&mut self, path: &str, field: u32) {
        let mut node = 0u32;
        for seg in path.split('.') {
            node = match self.child(node, seg.as_bytes()) {
                Some(c) => c,
                None => {
                    let id = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
                    self.nodes.push(TrieNode::default());
                    let n = &mut self.nodes[node as usize];
                    n.children
                        .push((tag(seg.as_bytes()), seg.as_bytes().into(), id));
                    n.bloom |= tag_bit(tag(seg.as_bytes()));
                    if n.children.len() > 8 {
                        n.map = Some(n.children.iter().map(|(_, k, c)| (k.clone(), *c)).collect());
                    }
                    id
                }
            };
        }
        self.nodes[node as usize].field = Some(field);
    }

    #[inline]
    pub(super) fn child(&self, node: u32, key: &[u8]) -> Option<u32> {
        let n = &self.nodes[node as usize];
        if let Some(map) = &n.map {
            return map.get(key).copied();
        }
        let t = tag(key);
        n.children
            .iter()
            .find(|(kt, k, _)| *kt == t && (key.len() <= 7 || **k == *key))
            .map(|(_, _, c)| *c)
    }

    /// [`Trie::child`] for the key `b[start..start + len]` (no dots, no escapes), with its
    /// tag read straight from the event bytes.
    #[inline]
    pub(super) fn child_at(&self, node: u32, b: &[u8], start: usize, len: usize) -> Option<u32> {
        let n = &self.nodes[node as usize];
        if let Some(map) = &n.map {
            return map.get(b.get(start..start + len)?).copied();
        }
        let t = match load8(b, start) {
            Some(v) => {
                let mask = if len >= 7 {
                    0x00FF_FFFF_FFFF_FFFF
                } else {
                    (1u64 << (8 * len)) - 1
                };
                (v & mask) | ((len.min(255) as u64) << 56)
            }
            None => tag(b.get(start..start + len)?),
        };
        if n.bloom & tag_bit(t) == 0 {
            return None;
        }
        let key = b.get(start..start + len)?;
        n.children
            .iter()
            .find(|(kt, k, _)| *kt == t && (len <= 7 || **k == *key))
            .map(|(_, _, c)| *c)
    }

    /// Follows a key that may itself contain dots.
    #[inline]
    pub(super) fn walk(&self, node: u32, key: &[u8]) -> Option<u32> {
        if !has_dot(key) {
            return self.child(node, key);
        }
        key.split(|b| *b == b'.')
            .try_fold(node, |n, seg| self.child(n, seg))
    }

    pub(super) fn has_children(&self, node: u32) -> bool {
        !self.nodes[node as usize].children.is_empty()
    }

    pub(super) fn field(&self, node: u32) -> Option<u32> {
        self.nodes[node as usize].field
    }
}
