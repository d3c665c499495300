//! A search that produces its results a few at a time (RFC 4511 §4.5.2: entries are returned
//! one message each, as they are found). The cursor owns an O(1) copy of the directory's state
//! (persistent maps) and its position in the walk over the candidates, so a search of 100,000
//! entries holds neither a lock, nor the candidate list, nor the rendered results: each step
//! visits at most [`CHUNK`] candidates and renders what matches.
//!
//! Snapshot semantics: a paged search sees the store as it was when its first page was asked for
//! (plus the gMSA rollovers its own reads caused, which re-take the copy). AD's cursor, by
//! contrast, is a position in the ESE index over the live database: an object added after the
//! first page can appear on a later page (MS-ADTS 3.1.1.3.4.1.1 leaves the consistency of pages
//! unspecified — "the server is not required to … return a consistent set of entries"; observed:
//! AD pages walk the live index). adsim keeps one consistent view per search instead, which no
//! client can rely on the absence of; docs/fidelity.md, "Paged search".

use std::collections::VecDeque;

use super::caller::Caller;
use super::error::DsResult;
use super::request::{Scope, SearchEntry, SearchRequest, View};
use super::search::{eval, heads_contain, indexed_key, Listing, Truth};
use super::{attrs, DirState, Directory};
use crate::model::{Dn, EntryId};

/// Candidates one step visits at most (a step is what runs between two yields of a connection).
pub const CHUNK: usize = 256;

/// An open search: the state it reads, where it stands, and what it has produced.
pub struct SearchCursor {
    /// The store as of the search's start (an O(1) clone).
    snap: DirState,
    caller: Caller,
    req: SearchRequest,
    base: Dn,
    base_id: EntryId,
    walk: Walk,
    /// Candidates taken from the walk and not yet tested (at most [`CHUNK`]).
    pending: VecDeque<EntryId>,
    /// NC heads searched as well (on a GC), for the indexed walk's scope test.
    heads: Vec<EntryId>,
    /// Subordinate naming contexts held elsewhere (continuation references).
    pub references: Vec<Dn>,
    produced: usize,
    /// Set when the size limit cut the result.
    pub size_limit_exceeded: bool,
    done: bool,
}

/// Where the walk over the candidates stands.
enum Walk {
    /// A walk of the tree below some roots, parents before children (pre-order), children in
    /// the store's order (ascending ids). Each level keeps its parent and the last child
    /// visited: O(depth) state.
    Tree {
        roots: VecDeque<Root>,
        stack: Vec<Level>,
    },
    /// The postings of an indexed equality, in ascending id order, after `after`.
    Indexed {
        attr: String,
        key: Vec<u8>,
        after: Option<EntryId>,
        /// The last fill brought fewer postings than asked for: the state read has no more,
        /// so the walk ends with the candidates already taken (no empty fill to find out, and
        /// the search's last entries and its SearchResultDone leave in one step).
        drained: bool,
    },
}

#[derive(Clone, Copy)]
struct Root {
    id: EntryId,
    /// Whether the root itself is a candidate.
    emit: bool,
    /// Levels below the root that are visited (0: none, 1: its children, usize::MAX: all).
    depth: usize,
}

#[derive(Clone, Copy)]
struct Level {
    parent: EntryId,
    last: Option<EntryId>,
    /// Levels below `parent` still visited (≥ 1).
    depth: usize,
}

impl Walk {
    /// Moves up to `budget` candidate ids into `out`.
    fn fill(&mut self, st: &DirState, budget: usize, out: &mut VecDeque<EntryId>) {
        match self {
            Walk::Tree { roots, stack } => {
                // One iterator per level, resumed after the level's last child (O(log
                // siblings) once per step, not per entry).
                let mut live: Vec<(Level, Box<dyn Iterator<Item = EntryId> + '_>)> = stack
                    .drain(..)
                    .map(|l| {
                        let it = st.store.children_after(l.parent, l.last);
                        (l, Box::new(it) as Box<dyn Iterator<Item = EntryId>>)
                    })
                    .collect();
                let mut taken = 0;
                while taken < budget {
                    let Some((level, it)) = live.last_mut() else {
                        let Some(root) = roots.pop_front() else { break };
                        if root.emit {
                            out.push_back(root.id);
                            taken += 1;
                        }
                        if root.depth > 0 {
                            live.push((
                                Level {
                                    parent: root.id,
                                    last: None,
                                    depth: root.depth,
                                },
                                Box::new(st.store.children(root.id)),
                            ));
                        }
                        continue;
                    };
                    match it.next() {
                        Some(child) => {
                            level.last = Some(child);
                            out.push_back(child);
                            taken += 1;
                            if level.depth > 1 {
                                let depth = level.depth - 1;
                                live.push((
                                    Level {
                                        parent: child,
                                        last: None,
                                        depth,
                                    },
                                    Box::new(st.store.children(child)),
                                ));
                            }
                        }
                        None => {
                            live.pop();
                        }
                    }
                }
                *stack = live.into_iter().map(|(l, _)| l).collect();
            }
            Walk::Indexed {
                attr,
                key,
                after,
                drained,
            } => {
                let postings = st
                    .store
                    .find_eq_after(attr, key, *after, budget)
                    .unwrap_or_default();
                *drained = postings.len() < budget;
                for id in postings {
                    *after = Some(id);
                    out.push_back(id);
                }
            }
        }
    }

    /// Whether the walk is known to be over (an indexed walk knows once a fill came short).
    fn finished(&self, pending: &VecDeque<EntryId>) -> bool {
        pending.is_empty()
            && match self {
                Walk::Tree { roots, stack } => roots.is_empty() && stack.is_empty(),
                Walk::Indexed { drained, .. } => *drained,
            }
    }

    /// The state read changed under the walk (a gMSA rollover re-took the copy): what the
    /// last fill found short of may have grown.
    fn state_changed(&mut self) {
        if let Walk::Indexed { drained, .. } = self {
            *drained = false;
        }
    }

    /// What the walk's position weighs, for MaxResultSetSize.
    fn weight(&self) -> usize {
        match self {
            Walk::Tree { roots, stack } => (roots.len() + stack.len()) * 24,
            Walk::Indexed { attr, key, .. } => attr.len() + key.len() + 8,
        }
    }
}

impl SearchCursor {
    /// Whether every result has been produced.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// What the cursor keeps between pages, in bytes (MaxResultSetSize): its position and
    /// request, never the results already sent.
    pub fn weight(&self) -> usize {
        self.walk.weight()
            + self.pending.len() * 8
            + self.base.len()
            + self.req.attrs.iter().map(String::len).sum::<usize>()
            + self.references.iter().map(Dn::len).sum::<usize>()
    }
}

impl Directory {
    /// Starts a search: checks the base (bind, referral, existence) and takes the O(1) copy of
    /// the state the search reads. No entry is visited yet.
    pub fn open_search(&self, caller: &Caller, req: &SearchRequest) -> DsResult<SearchCursor> {
        super::access::require_bound(caller)?;
        let base = match self.well_known_object(&req.base) {
            Some(dn) => dn,
            None => super::prologue::bound_target(caller, &req.base)?,
        };
        // SDProp's hourly pass, when due, runs before the read sees the entries.
        self.sdprop_if_due();
        let st = self.read();
        if let View::Dc { domain } = req.view {
            if let Some(owner) = self.forest.domain_of(&base) {
                if owner.index != domain {
                    return Err(self.referral_to(owner.index, &base));
                }
            }
        }
        let Some(base_id) = st.store.lookup(&base) else {
            return Err(self.no_such_object(&st, &base));
        };
        let mut references = Vec::new();
        let (walk, heads) = match req.scope {
            Scope::Base => (tree(vec![root(base_id, 0)]), Vec::new()),
            Scope::OneLevel => {
                let heads = self.nc_heads_below(&st, &base, true, req, &mut references);
                let mut roots = vec![Root {
                    id: base_id,
                    emit: false,
                    depth: 1,
                }];
                roots.extend(heads.iter().map(|h| root(*h, 0)));
                (tree(roots), heads)
            }
            Scope::Subtree => {
                let heads = self.nc_heads_below(&st, &base, false, req, &mut references);
                let walk = match indexed_key(&req.filter) {
                    Some((attr, key)) => Walk::Indexed {
                        attr,
                        key,
                        after: None,
                        drained: false,
                    },
                    None => {
                        let mut roots = vec![root(base_id, usize::MAX)];
                        roots.extend(heads.iter().map(|h| root(*h, usize::MAX)));
                        tree(roots)
                    }
                };
                (walk, heads)
            }
        };
        Ok(SearchCursor {
            snap: st.clone(),
            caller: caller.clone(),
            req: req.clone(),
            base,
            base_id,
            walk,
            pending: VecDeque::new(),
            heads,
            references,
            produced: 0,
            size_limit_exceeded: false,
            done: false,
        })
    }

    /// Produces at most `max` more results, visiting at most [`CHUNK`] candidates; fewer (even
    /// none) when the chunk ran out first. [`SearchCursor::is_done`] tells when all are out.
    pub fn search_step(&self, cur: &mut SearchCursor, max: usize) -> DsResult<Vec<SearchEntry>> {
        let mut out = Vec::new();
        if cur.done || max == 0 {
            return Ok(out);
        }
        if cur.pending.is_empty() {
            cur.walk.fill(&cur.snap, CHUNK, &mut cur.pending);
            if cur.pending.is_empty() {
                cur.done = true;
                return Ok(out);
            }
            // A read after the interval rolls gMSA passwords over first
            // (docs/notes/gmsa-gkdi.md §3): the due gMSAs among these candidates roll over,
            // and the search goes on from a copy that has the new keys.
            let now = self.clock.now();
            let due: Vec<EntryId> = cur
                .pending
                .iter()
                .copied()
                .filter(|id| cur.snap.store.get(*id).is_some_and(|e| self.is_due(e, now)))
                .collect();
            if !due.is_empty() {
                self.roll_over_due_among(&due);
                cur.snap = self.read().clone();
                cur.walk.state_changed();
            }
        }
        let st = &cur.snap;
        let req = &cur.req;
        let mut ctx = attrs::ReadContext::new(self, st, &cur.caller, req);
        let mut listing = Listing::new(st, &cur.caller, cur.base_id);
        let mut guards = super::access::Guards::new(&cur.caller);
        let indexed = matches!(cur.walk, Walk::Indexed { .. });
        while out.len() < max {
            let Some(id) = cur.pending.pop_front() else { break };
            let Some(entry) = st.store.get(id) else { continue };
            if indexed
                && !(entry.dn.is_within(&cur.base)
                    && (self.same_nc(&entry.dn, &cur.base) || heads_contain(st, &cur.heads, &entry.dn)))
            {
                continue;
            }
            if !self.in_view(entry, req.view) || !listing.visible(entry) {
                continue;
            }
            // The entry's guard, shared with the entries that decide alike, serves the
            // filter and the attributes read.
            let guard = guards.of(entry);
            let readable = |a: &str| ctx.readable(&guard, a);
            if eval(self, st, entry, &req.filter, &readable) != Truth::True {
                continue;
            }
            if req.size_limit > 0 && cur.produced >= req.size_limit {
                cur.size_limit_exceeded = true;
                cur.done = true;
                cur.pending.clear();
                return Ok(out);
            }
            out.push(ctx.render_with(entry, &guard)?);
            cur.produced += 1;
        }
        if cur.walk.finished(&cur.pending) {
            cur.done = true;
        }
        Ok(out)
    }
}

fn root(id: EntryId, depth: usize) -> Root {
    Root {
        id,
        emit: true,
        depth,
    }
}

fn tree(roots: Vec<Root>) -> Walk {
    Walk::Tree {
        roots: roots.into(),
        stack: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsa::testing::*;
    use crate::model::filter::Filter;

    fn request(base: &str, scope: Scope) -> SearchRequest {
        SearchRequest {
            base: base.into(),
            scope,
            filter: Filter::Present("objectClass".into()),
            attrs: vec!["cn".into()],
            types_only: false,
            size_limit: 0,
            view: View::Dc { domain: 0 },
        }
    }

    /// Stepping one result at a time gives what the one-shot search gives, in the same order,
    /// and the cursor never holds more than one chunk of candidates.
    #[test]
    fn a_cursor_gives_the_one_shot_results_one_step_at_a_time() {
        let dir = forest();
        let admin = admin(&dir);
        for (base, scope) in [
            (BASE, Scope::Subtree),
            (BASE, Scope::OneLevel),
            (ALICE, Scope::Base),
        ] {
            let req = request(base, scope);
            let whole = dir.search(&admin, &req).unwrap().entries;
            let mut cur = dir.open_search(&admin, &req).unwrap();
            let mut stepped = Vec::new();
            let mut steps = 0;
            while !cur.is_done() {
                stepped.extend(dir.search_step(&mut cur, 1).unwrap());
                assert!(cur.pending.len() <= CHUNK);
                steps += 1;
                assert!(steps < 100_000);
            }
            assert!(!whole.is_empty());
            assert_eq!(stepped, whole, "{base} {scope:?}");
        }
    }

    /// An indexed equality whose postings fit in one fill is over after its first step: the
    /// session sends the entry and the SearchResultDone together. A fill that takes all it
    /// asked for has not found the end yet.
    #[test]
    fn an_indexed_walk_ends_with_the_step_that_drains_it() {
        let dir = forest();
        let admin = admin(&dir);
        let mut req = request(BASE, Scope::Subtree);
        req.filter = Filter::EqualityMatch("sAMAccountName".into(), b"alice".to_vec());
        let mut cur = dir.open_search(&admin, &req).unwrap();
        assert!(matches!(cur.walk, Walk::Indexed { .. }));
        let got = dir.search_step(&mut cur, usize::MAX).unwrap();
        assert_eq!(got.len(), 1);
        assert!(cur.is_done(), "one step finds alice and knows there is no other");
        // A fill that takes as many postings as asked for cannot know it took the last.
        let st = dir.read().clone();
        let walk = |budget: usize| {
            let mut walk = Walk::Indexed {
                attr: "samaccountname".into(),
                key: b"alice".to_vec(),
                after: None,
                drained: false,
            };
            let mut pending = VecDeque::new();
            walk.fill(&st, budget, &mut pending);
            (walk, pending)
        };
        let (mut full, mut pending) = walk(1);
        assert_eq!(pending.len(), 1);
        pending.clear();
        assert!(!full.finished(&pending));
        full.fill(&st, 1, &mut pending);
        assert!(pending.is_empty() && full.finished(&pending));
        let (short, mut pending) = walk(2);
        assert_eq!(pending.len(), 1);
        assert!(!short.finished(&pending), "candidates still pending");
        pending.clear();
        assert!(short.finished(&pending));
    }

    /// The cursor reads the store as it was when the search was opened.
    #[test]
    fn a_cursor_reads_the_state_it_was_opened_on() {
        let dir = forest();
        let admin = admin(&dir);
        let req = request(&format!("CN=Users,{BASE}"), Scope::OneLevel);
        let mut cur = dir.open_search(&admin, &req).unwrap();
        let first = dir.search_step(&mut cur, 1).unwrap();
        assert_eq!(first.len(), 1);
        let before = dir.search(&admin, &req).unwrap().entries.len();
        dir.add(
            &crate::dsa::Caller::system(),
            &format!("CN=late,CN=Users,{BASE}"),
            vec![
                ("objectClass".into(), s("user")),
                ("sAMAccountName".into(), s("late")),
            ],
        )
        .unwrap();
        assert_eq!(dir.search(&admin, &req).unwrap().entries.len(), before + 1);
        let mut rest = first;
        while !cur.is_done() {
            rest.extend(dir.search_step(&mut cur, 1000).unwrap());
        }
        assert_eq!(rest.len(), before);
        assert!(rest.iter().all(|e| !e.dn.starts_with("CN=late,")));
    }
}
