/-
Ring.L2: the SQ/CQ pair as a concurrent protocol.  Every user and kernel action is one atomic
step; any interleaving is a path of `Step`.

Release/acquire has two halves here.  The release: every slot carries its status (`sqPub`,
`cqPub`), cleared when its writer fills it and set when the writer's store-release of the tail
(`uPublish`, `kCommitCq`) covers the write.  A read of a slot whose write was never released
returns junk, any entry at all (`SqRead`, `CqRead`), so a protocol that reads past the
published tail reads garbage in the model, as it may in the machine.  The acquire: an agent
reads a slot only below an index it has loaded (`kTailSeen` for the kernel on the SQ,
`uCqTailSeen` for the user on the CQ).  A load may be stale: it returns any value between the
last one this agent saw and the current one (`uLoadHead`, `kLoadTail`, `kLoadCqHead`,
`uLoadCqTail`).  Names follow the C (`sq_tail` is `sqTail`).
-/
import Ring.L1

namespace Ring

structure St where
  cap : Nat                      -- sq ring_entries
  cqCap : Nat                    -- cq ring_entries
  -- SQ, shared
  sqHead : Nat                   -- sq.head, kernel-written
  sqTail : Nat                   -- sq.tail, user-written
  sqes : Nat → Option Sqe        -- the SQE array, by slot
  sqPub : Nat → Bool             -- the slot's last write was released by a store of sq.tail
  -- SQ, user-private
  sqeTail : Nat                  -- lu_sq.sqe_tail: next index to hand out
  headSeen : Nat                 -- lu_sq.head_seen: last sq.head observed
  -- SQ, kernel-private
  kHead : Nat                    -- ctx->cached_sq_head
  kTailSeen : Nat                -- sq.tail as last loaded by the kernel
  inflight : List Nat            -- user_data of consumed, not yet completed requests
  -- CQ, shared
  cqHead : Nat                   -- cq.head, user-written
  cqTail : Nat                   -- cq.tail, kernel-written
  cqes : Nat → Option Cqe        -- the CQE array, by slot
  cqPub : Nat → Bool             -- the slot's last write was released by a store of cq.tail
  -- CQ, kernel-private
  cqeTail : Nat                  -- ctx->cached_cq_tail
  cqHeadSeen : Nat               -- cq.head as last loaded by the kernel
  overflow : List Cqe            -- ctx->cq_overflow_list (NODROP)
  -- CQ, user-private
  uCqHead : Nat                  -- next CQE to reap (cq.head not yet advanced)
  uCqTailSeen : Nat              -- cq.tail as last loaded by the user
  -- ghost state: histories, never read by a guard
  subAt : Nat → Sqe              -- the entry the user wrote at each index
  consumed : List Sqe            -- entries the kernel consumed, in consumption order
  postAt : Nat → Cqe             -- the CQE the kernel placed at each CQ index
  produced : List Cqe            -- completions the kernel produced (posted or overflowed)
  reaped : List Cqe              -- CQEs the user reaped, in reaping order

def noSqe : Sqe := ⟨Op.nop, 0, 0, 0, 0, 0⟩
def noCqe : Cqe := ⟨0, 0, 0⟩

/-- A fresh ring: every index is 0 (the u32 start value is handled by Ring.U32). -/
def init (cap cqCap : Nat) : St where
  cap := cap
  cqCap := cqCap
  sqHead := 0
  sqTail := 0
  sqes := fun _ => none
  sqPub := fun _ => false
  sqeTail := 0
  headSeen := 0
  kHead := 0
  kTailSeen := 0
  inflight := []
  cqHead := 0
  cqTail := 0
  cqes := fun _ => none
  cqPub := fun _ => false
  cqeTail := 0
  cqHeadSeen := 0
  overflow := []
  uCqHead := 0
  uCqTailSeen := 0
  subAt := fun _ => noSqe
  consumed := []
  postAt := fun _ => noCqe
  produced := []
  reaped := []

/-- What a read of SQ slot `j` may return: its entry once the write was released, junk (any
entry) before. -/
def SqRead (s : St) (j : Nat) (e : Sqe) : Prop := s.sqPub j = true → s.sqes j = some e

/-- What a read of CQ slot `j` may return: its CQE once the write was released, junk before. -/
def CqRead (s : St) (j : Nat) (c : Cqe) : Prop := s.cqPub j = true → s.cqes j = some c

/-- A store-release of a tail publishes every write its agent made before it. -/
def allPub : Nat → Bool := fun _ => true

inductive Step : St → St → Prop
  -- _io_uring_get_sqe: take the slot at sqeTail if the ring is not full, and fill it.
  | uGetSqe (s : St) (e : Sqe) : s.sqeTail < s.headSeen + s.cap →
      Step s { s with sqes := upd s.sqes (slot s.cap s.sqeTail) (some e),
                      sqPub := upd s.sqPub (slot s.cap s.sqeTail) false,
                      subAt := upd s.subAt s.sqeTail e, sqeTail := s.sqeTail + 1 }
  -- io_uring_load_sq_head (acquire), possibly stale.
  | uLoadHead (s : St) (h : Nat) : s.headSeen ≤ h → h ≤ s.sqHead →
      Step s { s with headSeen := h }
  -- __io_uring_flush_sq: store-release sq.tail.
  | uPublish (s : St) : Step s { s with sqTail := s.sqeTail, sqPub := allPub }
  -- io_sqring_entries: load-acquire sq.tail, possibly stale.
  | kLoadTail (s : St) (t : Nat) : s.kTailSeen ≤ t → t ≤ s.sqTail →
      Step s { s with kTailSeen := t }
  -- io_get_sqe: consume the entry at cached_sq_head, as the slot reads.
  | kGetSqe (s : St) (e : Sqe) : s.kHead < s.kTailSeen → SqRead s (slot s.cap s.kHead) e →
      Step s { s with kHead := s.kHead + 1, inflight := s.inflight ++ [e.userData],
                      consumed := s.consumed ++ [e] }
  -- io_commit_sqring: store-release sq.head.
  | kCommitSq (s : St) : Step s { s with sqHead := s.kHead }
  -- io_cqe_cache_refill: load cq.head, possibly stale.
  | kLoadCqHead (s : St) (h : Nat) : s.cqHeadSeen ≤ h → h ≤ s.cqHead →
      Step s { s with cqHeadSeen := h }
  -- io_get_cqe + fill: complete an in-flight request into a free CQ slot; never while
  -- overflowed CQEs wait, which is what keeps the CQ in order.  A CQE with F_MORE (multishot)
  -- leaves its request in flight: one SQE, any number of CQEs, one final.
  | kPost (s : St) (c : Cqe) : s.inflight.elem c.userData = true → s.overflow = [] →
      s.cqeTail < s.cqHeadSeen + s.cqCap →
      Step s { s with cqes := upd s.cqes (slot s.cqCap s.cqeTail) (some c),
                      cqPub := upd s.cqPub (slot s.cqCap s.cqeTail) false,
                      postAt := upd s.postAt s.cqeTail c, cqeTail := s.cqeTail + 1,
                      inflight := retire s.inflight c, produced := s.produced ++ [c] }
  -- io_cqring_add_overflow: CQ full (as far as the kernel knows) or overflow pending.
  | kOverflow (s : St) (c : Cqe) : s.inflight.elem c.userData = true →
      (s.overflow ≠ [] ∨ s.cqHeadSeen + s.cqCap ≤ s.cqeTail) →
      Step s { s with overflow := s.overflow ++ [c],
                      inflight := retire s.inflight c, produced := s.produced ++ [c] }
  -- __io_cqring_overflow_flush: move the oldest overflowed CQE into the CQ.
  | kFlush (s : St) (c : Cqe) (cs : List Cqe) : s.overflow = c :: cs →
      s.cqeTail < s.cqHeadSeen + s.cqCap →
      Step s { s with cqes := upd s.cqes (slot s.cqCap s.cqeTail) (some c),
                      cqPub := upd s.cqPub (slot s.cqCap s.cqeTail) false,
                      postAt := upd s.postAt s.cqeTail c, cqeTail := s.cqeTail + 1,
                      overflow := cs }
  -- io_commit_cqring: store-release cq.tail.
  | kCommitCq (s : St) : Step s { s with cqTail := s.cqeTail, cqPub := allPub }
  -- io_uring_peek_cqe: load-acquire cq.tail, possibly stale.
  | uLoadCqTail (s : St) (t : Nat) : s.uCqTailSeen ≤ t → t ≤ s.cqTail →
      Step s { s with uCqTailSeen := t }
  -- Read the CQE at the user's head, as the slot reads.
  | uReap (s : St) (c : Cqe) : s.uCqHead < s.uCqTailSeen → CqRead s (slot s.cqCap s.uCqHead) c →
      Step s { s with uCqHead := s.uCqHead + 1, reaped := s.reaped ++ [c] }
  -- io_uring_cq_advance: store-release cq.head.
  | uCqAdvance (s : St) : Step s { s with cqHead := s.uCqHead }

-- Rings the kernel can set up: power-of-two capacities (liburing/kernel: cq ≥ sq).
def GoodCaps (cap cqCap : Nat) : Prop := IsPow2 cap ∧ IsPow2 cqCap

inductive Reach : St → Prop
  | init (cap cqCap : Nat) : 0 < cap → 0 < cqCap → Reach (init cap cqCap)
  | step {s s' : St} : Reach s → Step s s' → Reach s'

/-- The user's submission history: every entry handed to the ring, in order. -/
def St.submitted (s : St) : List Sqe := pre s.subAt s.sqeTail

/-- Real rings meet `Reach.init`'s premise: the kernel's capacities are powers of two. -/
theorem IsPow2.pos {n : Nat} : IsPow2 n → 0 < n
  | ⟨k, h⟩ => by rw [h]; exact pow2_pos k

end Ring
