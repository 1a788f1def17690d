//! [`SmallMap`]: a map kept as a `Vec` sorted by key, for the core's small maps (typing notices,
//! leaving users, the presence told to others, VAPID tokens by push service). It answers and
//! iterates exactly as a `BTreeMap` would, in key order; each distinct `BTreeMap<K, V>` brings
//! several KB of node code into the Wasm, this a few hundred bytes (issue #14). Inserts and
//! removals shift the tail, so it is meant for tens to hundreds of entries, not a shop's
//! connections.

use std::borrow::Borrow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmallMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// The value of `key`, inserted from `make` first when there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.find(&key) {
            Ok(at) => at,
            Err(at) => {
                self.entries.insert(at, (key, make()));
                at
            }
        };
        &mut self.entries[at].1
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| self.entries.remove(at).1)
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn it_answers_and_iterates_as_a_btree_map_does() {
        let mut small = SmallMap::default();
        let mut btree = BTreeMap::new();
        // A fixed pseudo-random walk of inserts, removals and retains over a few keys.
        let mut x: u32 = 7;
        for step in 0..2_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = format!("k{}", (x >> 16) % 23);
            match (x >> 8) % 5 {
                0 | 1 => assert_eq!(small.insert(key.clone(), step), btree.insert(key, step)),
                2 => assert_eq!(small.remove(key.as_str()), btree.remove(key.as_str())),
                3 => {
                    *small.get_or_insert_with(key.clone(), || step) += 1;
                    *btree.entry(key).or_insert(step) += 1;
                }
                _ => {
                    small.retain(|_, v| *v % 3 != 0);
                    btree.retain(|_, v| *v % 3 != 0);
                }
            }
            assert_eq!(small.len(), btree.len());
            assert!(small.iter().eq(btree.iter()));
            assert_eq!(small.get("k3"), btree.get("k3"));
            assert_eq!(small.contains_key("k5"), btree.contains_key("k5"));
        }
        small.clear();
        assert!(small.is_empty());
    }
}
