//! Tenant → worker assignment: a consistent-hash ring (the `hashring` crate) with virtual
//! nodes over the live workers, plus a bounded-load cap weighted by each tenant's
//! monitor count ("consistent hashing with bounded loads").
//!
//! - Deterministic: the same workers and tenants give the same assignment in every
//!   process and every run. Positions come from SipHash with fixed keys over explicit
//!   bytes (never `RandomState`, never a platform-sized length prefix).
//! - Stable: a tenant goes to the first worker clockwise from its position that has room,
//!   so adding or removing a worker moves only the tenants whose position changes owner
//!   plus the few the cap pushes along.
//! - Bounded: no worker carries more than `load_factor` × the mean weight, as long as no
//!   single tenant is heavier than about a quarter of the mean (such a tenant is placed
//!   on the least loaded worker instead, and may exceed the cap alone).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use hashring::HashRing;
use siphasher::sip::SipHasher13;
use uuid::Uuid;

/// Virtual nodes per worker: enough for an even spread of positions.
pub const DEFAULT_VNODES: usize = 160;
/// The cap: a worker's weight stays within this multiple of the mean.
pub const DEFAULT_LOAD_FACTOR: f64 = 1.25;

/// Fixed-key SipHash: the same positions in every process.
#[derive(Clone, Copy, Debug, Default)]
pub struct StableHash;

impl BuildHasher for StableHash {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(0x5354_454c_4c41_5221, 0x4d4f_4e49_544f_5221)
    }
}

/// One virtual node: a worker and its replica number.
#[derive(Clone, Debug, PartialEq, Eq)]
struct VNode {
    worker: Arc<str>,
    replica: u32,
}

impl Hash for VNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.worker.as_bytes());
        state.write(&[0xff]);
        state.write(&self.replica.to_le_bytes());
    }
}

/// A tenant's position on the ring.
struct TenantPoint(Uuid);

impl Hash for TenantPoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.as_bytes());
    }
}

/// A tenant to place and its weight (its active monitor count, at least 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub tenant: Uuid,
    pub weight: u64,
}

/// The ring over a set of workers.
pub struct Ring {
    ring: HashRing<VNode, StableHash>,
    workers: Vec<Arc<str>>,
}

impl Ring {
    /// A ring over `workers` (duplicates ignored) with `vnodes` virtual nodes each.
    pub fn new<S: AsRef<str>>(workers: &[S], vnodes: usize) -> Self {
        let mut names: Vec<Arc<str>> = workers.iter().map(|w| Arc::from(w.as_ref())).collect();
        names.sort();
        names.dedup();
        let mut ring = HashRing::with_hasher(StableHash);
        let mut nodes = Vec::with_capacity(names.len() * vnodes);
        for w in &names {
            for replica in 0..vnodes.max(1) as u32 {
                nodes.push(VNode {
                    worker: w.clone(),
                    replica,
                });
            }
        }
        ring.batch_add(nodes);
        Self {
            ring,
            workers: names,
        }
    }

    pub fn workers(&self) -> &[Arc<str>] {
        &self.workers
    }

    /// The worker owning `tenant` with no cap (plain consistent hashing).
    pub fn owner(&self, tenant: Uuid) -> Option<&str> {
        self.ring.get(&TenantPoint(tenant)).map(|v| &*v.worker)
    }

    /// Distinct workers clockwise from the tenant's position: its preference order.
    fn preference(&self, tenant: Uuid) -> Vec<Arc<str>> {
        let Some(all) = self
            .ring
            .get_with_replicas(&TenantPoint(tenant), self.ring.len())
        else {
            return Vec::new();
        };
        let mut seen: Vec<Arc<str>> = Vec::with_capacity(self.workers.len());
        for v in all {
            if !seen.contains(&v.worker) {
                seen.push(v.worker);
                if seen.len() == self.workers.len() {
                    break;
                }
            }
        }
        seen
    }

    /// Places every tenant: each goes to the first worker in its preference order whose
    /// weight stays within `load_factor` × the mean; tenants are placed heaviest first
    /// (ties by position) so the cap rarely binds on the last ones. Empty without
    /// workers.
    pub fn assign(&self, tenants: &[Load], load_factor: f64) -> BTreeMap<Uuid, String> {
        let mut out = BTreeMap::new();
        if self.workers.is_empty() {
            return out;
        }
        let total: u64 = tenants.iter().map(|t| t.weight.max(1)).sum();
        let cap = ((total as f64) * load_factor / self.workers.len() as f64).floor() as u64;
        let mut load: HashMap<Arc<str>, u64> =
            self.workers.iter().map(|w| (w.clone(), 0)).collect();
        let mut order: Vec<&Load> = tenants.iter().collect();
        order.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.tenant.cmp(&b.tenant)));
        for t in order {
            let weight = t.weight.max(1);
            let primary = self.owner(t.tenant).map(Arc::<str>::from);
            let fits = |w: &Arc<str>, load: &HashMap<Arc<str>, u64>| load[w] + weight <= cap;
            let chosen = match primary {
                // The common case, without walking the ring.
                Some(p) if fits(&p, &load) => p,
                _ => self
                    .preference(t.tenant)
                    .into_iter()
                    .find(|w| fits(w, &load))
                    .unwrap_or_else(|| {
                        // Heavier than any room left: the least loaded worker (ties by
                        // name, for determinism).
                        self.workers
                            .iter()
                            .min_by(|a, b| load[*a].cmp(&load[*b]).then(a.cmp(b)))
                            .cloned()
                            .expect("workers is not empty")
                    }),
            };
            *load.get_mut(&chosen).expect("a ring worker") += weight;
            out.insert(t.tenant, chosen.to_string());
        }
        out
    }
}

/// Tenants whose owner differs between two assignments (including tenants added or
/// dropped).
pub fn moved(before: &BTreeMap<Uuid, String>, after: &BTreeMap<Uuid, String>) -> usize {
    let changed = after
        .iter()
        .filter(|(t, w)| before.get(*t) != Some(*w))
        .count();
    let dropped = before.keys().filter(|t| !after.contains_key(*t)).count();
    changed + dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tenant(i: u64) -> Uuid {
        // Deterministic ids spread over the space.
        let mut h = StableHash.build_hasher();
        h.write(&i.to_le_bytes());
        let a = h.finish();
        let mut h = StableHash.build_hasher();
        h.write(&a.to_le_bytes());
        Uuid::from_u64_pair(a, h.finish())
    }

    fn workers(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("worker-{i}")).collect()
    }

    fn loads(n: u64, weight: impl Fn(u64) -> u64) -> Vec<Load> {
        (0..n)
            .map(|i| Load {
                tenant: tenant(i),
                weight: weight(i),
            })
            .collect()
    }

    fn weights(a: &BTreeMap<Uuid, String>, loads: &[Load]) -> HashMap<String, u64> {
        let mut out = HashMap::new();
        for l in loads {
            *out.entry(a[&l.tenant].clone()).or_default() += l.weight.max(1);
        }
        out
    }

    /// Golden values: these owners were computed once and must never change, in any
    /// process, on any platform, or assignments would shuffle on upgrade.
    #[test]
    fn positions_are_the_same_in_every_process() {
        let ring = Ring::new(&workers(3), DEFAULT_VNODES);
        let got: Vec<&str> = (0..6).map(|i| ring.owner(tenant(i)).unwrap()).collect();
        assert_eq!(
            got, GOLDEN,
            "ring positions changed: assignments would move on upgrade"
        );
        // And the ring does not depend on the order workers are listed in.
        let mut reversed = workers(3);
        reversed.reverse();
        let again = Ring::new(&reversed, DEFAULT_VNODES);
        let l = loads(500, |i| 1 + i % 7);
        assert_eq!(ring.assign(&l, 1.25), again.assign(&l, 1.25));
    }

    const GOLDEN: [&str; 6] = [
        "worker-0", "worker-0", "worker-1", "worker-1", "worker-2", "worker-1",
    ];

    #[test]
    fn no_workers_no_assignment() {
        let ring = Ring::new::<String>(&[], DEFAULT_VNODES);
        assert!(ring.assign(&loads(10, |_| 1), 1.25).is_empty());
        assert_eq!(ring.owner(tenant(1)), None);
    }

    #[test]
    fn a_tenant_heavier_than_the_cap_goes_to_the_least_loaded_worker() {
        let ring = Ring::new(&workers(4), DEFAULT_VNODES);
        let mut l = loads(40, |_| 1);
        l.push(Load {
            tenant: tenant(999),
            weight: 1_000,
        });
        let a = ring.assign(&l, 1.25);
        assert_eq!(a.len(), 41);
        let w = weights(&a, &l);
        let heavy = &a[&tenant(999)];
        // Placed first (heaviest first), so it is alone until the others fill the rest.
        assert_eq!(w[heavy], 1_000);
    }

    /// Plain ring: n → n+1 workers moves about 1/(n+1) of the tenants. Bound tested:
    /// at most 1.3/(n+1) with 160 virtual nodes over 5,000 tenants.
    #[test]
    fn adding_a_worker_moves_about_one_share_on_the_plain_ring() {
        let tenants: Vec<Uuid> = (0..5_000).map(tenant).collect();
        for n in [1usize, 2, 3, 5, 10, 20] {
            let before = Ring::new(&workers(n), DEFAULT_VNODES);
            let after = Ring::new(&workers(n + 1), DEFAULT_VNODES);
            let moved = tenants
                .iter()
                .filter(|t| before.owner(**t) != after.owner(**t))
                .count();
            let share = moved as f64 / tenants.len() as f64;
            let bound = 1.3 / (n + 1) as f64;
            assert!(
                share <= bound,
                "{n} -> {}: moved {share:.3} of tenants, bound {bound:.3}",
                n + 1
            );
            // Every move goes to the new worker.
            for t in &tenants {
                if before.owner(*t) != after.owner(*t) {
                    assert_eq!(after.owner(*t), Some(format!("worker-{n}").as_str()));
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// With the cap: the most loaded worker carries at most 1.25 × the mean weight,
        /// for weights up to a quarter of the per-worker mean.
        #[test]
        fn bounded_load_holds(
            n in 1usize..24,
            count in 50u64..1_500,
            seed in 0u64..1_000,
            max_weight in 1u64..20,
        ) {
            let l = loads(count, |i| 1 + (i * 31 + seed) % max_weight);
            let total: u64 = l.iter().map(|x| x.weight).sum();
            let mean = total as f64 / n as f64;
            prop_assume!((max_weight as f64) <= mean / 4.0);
            let ring = Ring::new(&workers(n), DEFAULT_VNODES);
            let a = ring.assign(&l, DEFAULT_LOAD_FACTOR);
            prop_assert_eq!(a.len(), l.len());
            let w = weights(&a, &l);
            let max = w.values().copied().max().unwrap_or(0) as f64;
            prop_assert!(max <= DEFAULT_LOAD_FACTOR * mean, "max {max} mean {mean}");
        }

        /// With the cap: n → n+1 workers moves at most 2/(n+1) of the tenants (the plain
        /// ring's share plus what the tighter cap pushes along), and most moves go to
        /// the new worker.
        #[test]
        fn bounded_assignment_moves_little_when_a_worker_joins(
            n in 2usize..16,
            count in 500u64..2_000,
            seed in 0u64..1_000,
        ) {
            let l = loads(count, |i| 1 + (i * 17 + seed) % 10);
            let before = Ring::new(&workers(n), DEFAULT_VNODES).assign(&l, DEFAULT_LOAD_FACTOR);
            let after = Ring::new(&workers(n + 1), DEFAULT_VNODES).assign(&l, DEFAULT_LOAD_FACTOR);
            let share = moved(&before, &after) as f64 / l.len() as f64;
            prop_assert!(share <= 2.0 / (n + 1) as f64, "{} -> {}: moved {:.3}", n, n + 1, share);
        }

        /// A worker leaving moves its own tenants, and few others.
        #[test]
        fn a_worker_leaving_moves_its_tenants_and_few_others(
            n in 3usize..16,
            count in 500u64..2_000,
            gone in 0usize..3,
        ) {
            let l = loads(count, |i| 1 + i % 5);
            let all = workers(n);
            let before = Ring::new(&all, DEFAULT_VNODES).assign(&l, DEFAULT_LOAD_FACTOR);
            let rest: Vec<String> = all.iter().filter(|w| **w != all[gone]).cloned().collect();
            let after = Ring::new(&rest, DEFAULT_VNODES).assign(&l, DEFAULT_LOAD_FACTOR);
            let own = before.values().filter(|w| **w == all[gone]).count();
            let others = moved(&before, &after) - own;
            prop_assert!(after.values().all(|w| *w != all[gone]));
            prop_assert!(
                (others as f64) <= l.len() as f64 / n as f64,
                "{} others moved besides the {} of the leaving worker", others, own
            );
        }
    }
}
