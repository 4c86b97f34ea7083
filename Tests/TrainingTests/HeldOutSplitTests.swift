// SPDX-License-Identifier: Apache-2.0
import Testing
import Training

@Suite struct HeldOutSplitTests {
    @Test func partitionIsDisjointCompleteAndSeeded() {
        let split = HeldOutSplit(memberCount: 1_000, heldOutFraction: 0.1, seed: 42)
        #expect(split.heldOut.count == 100)
        #expect(Set(split.training).isDisjoint(with: split.heldOut))
        #expect((split.training + split.heldOut).sorted() == Array(0..<1_000))
        #expect(split == HeldOutSplit(memberCount: 1_000, heldOutFraction: 0.1, seed: 42))
        #expect(split != HeldOutSplit(memberCount: 1_000, heldOutFraction: 0.1, seed: 43))
    }

    @Test func keepsOneTrainingMember() {
        let split = HeldOutSplit(memberCount: 2, heldOutFraction: 0.9, seed: 1)
        #expect(split.training.count == 1 && split.heldOut.count == 1)
    }
}
