/-
Ring.L2: the SQ/CQ pair as a concurrent protocol.  Every user and kernel action is one atomic
step; any interleaving is a path of `Step`.

Release/acquire is modelled by visibility through indices: an agent reads a slot only below an
index it has observed (`kTailSeen` for the kernel on the SQ, `uCqTailSeen` for the user on the
CQ), and that index was published only after the slot was written.  A load may be stale: it
returns any value between the last one this agent saw and the current one (`uLoadHead`,
`kLoadTail`, `kLoadCqHead`, `uLoadCqTail`).  Names follow the C (`sq_tail` is `sqTail`).
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
  sqeTail := 0
  headSeen := 0
  kHead := 0
  kTailSeen := 0
  inflight := []
  cqHead := 0
  cqTail := 0
  cqes := fun _ => none
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

inductive Step : St → St → Prop
  -- _io_uring_get_sqe: take the slot at sqeTail if the ring is not full, and fill it.
  | uGetSqe (s : St) (e : Sqe) : s.sqeTail < s.headSeen + s.cap →
      Step s { s with sqes := upd s.sqes (slot s.cap s.sqeTail) (some e),
                      subAt := upd s.subAt s.sqeTail e, sqeTail := s.sqeTail + 1 }
  -- io_uring_load_sq_head (acquire), possibly stale.
  | uLoadHead (s : St) (h : Nat) : s.headSeen ≤ h → h ≤ s.sqHead →
      Step s { s with headSeen := h }
  -- __io_uring_flush_sq: store-release sq.tail.
  | uPublish (s : St) : Step s { s with sqTail := s.sqeTail }
  -- io_sqring_entries: load-acquire sq.tail, possibly stale.
  | kLoadTail (s : St) (t : Nat) : s.kTailSeen ≤ t → t ≤ s.sqTail →
      Step s { s with kTailSeen := t }
  -- io_get_sqe: consume the entry at cached_sq_head.
  | kGetSqe (s : St) (e : Sqe) : s.kHead < s.kTailSeen → s.sqes (slot s.cap s.kHead) = some e →
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
                      postAt := upd s.postAt s.cqeTail c, cqeTail := s.cqeTail + 1,
                      overflow := cs }
  -- io_commit_cqring: store-release cq.tail.
  | kCommitCq (s : St) : Step s { s with cqTail := s.cqeTail }
  -- io_uring_peek_cqe: load-acquire cq.tail, possibly stale.
  | uLoadCqTail (s : St) (t : Nat) : s.uCqTailSeen ≤ t → t ≤ s.cqTail →
      Step s { s with uCqTailSeen := t }
  -- Read the CQE at the user's head.
  | uReap (s : St) (c : Cqe) : s.uCqHead < s.uCqTailSeen → s.cqes (slot s.cqCap s.uCqHead) = some c →
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
