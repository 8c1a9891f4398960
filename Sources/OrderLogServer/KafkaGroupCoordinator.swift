import Foundation
import KafkaProtocol

/// Kafka's classic consumer group protocol (docs/KAFKA.md §5): members join, the leader
/// assigns partitions (the broker passes its assignment on without reading it), members sync,
/// heartbeat, leave or time out, and each change of members is a new generation. Committed
/// offsets are kept durable (`KafkaOffsets`). An actor: a join or a sync waits — without
/// holding anything — until the rest of the group has joined, or the leader has assigned.
actor KafkaGroupCoordinator {
    enum GroupState: String { case empty, preparingRebalance, completingRebalance, stable }

    struct JoinAnswer: Sendable {
        var error: KafkaErrorCode
        var generation: Int32 = -1
        var protocolName = ""
        var leader = ""
        var memberID = ""
        var members: [(memberID: String, metadata: [UInt8])] = []
    }

    struct SyncAnswer: Sendable {
        var error: KafkaErrorCode
        var assignment: [UInt8] = []
    }

    private struct Member {
        var id: String
        var sessionTimeout: Duration
        var rebalanceTimeout: Duration
        var protocols: [JoinGroupRequest.GroupProtocol]
        var lastSeen: ContinuousClock.Instant
        var joinWaiter: CheckedContinuation<JoinAnswer, Never>?
        var syncWaiter: CheckedContinuation<SyncAnswer, Never>?
        var assignment: [UInt8] = []
    }

    private struct Group {
        var state = GroupState.empty
        var generation: Int32 = 0
        var protocolType: String?
        var protocolName: String?
        var leader: String?
        /// Members in the order they first joined (the leader is the first still here).
        var order: [String] = []
        var members: [String: Member] = [:]
        /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined with, and when
        /// (forgotten after `pendingTimeout`).
        var pending: [String: ContinuousClock.Instant] = [:]
        /// When a rebalance completes whoever has joined by then.
        var deadline: ContinuousClock.Instant?
    }

    private var groups: [String: Group] = [:]
    let offsets: KafkaOffsets
    /// How long a new group waits for more members before its first generation (Kafka's
    /// `group.initial.rebalance.delay.ms`, 3 s there).
    let initialDelay: Duration
    static let sessionTimeouts: ClosedRange<Int32> = 1_000...1_800_000
    static let groupMembersMax = 1_000
    static let groupsMax = 10_000
    static let pendingTimeout: Duration = .seconds(60)

    init(offsets: KafkaOffsets, initialDelay: Duration = .milliseconds(1_000)) {
        self.offsets = offsets
        self.initialDelay = initialDelay
    }

    // MARK: Join, sync

    func join(_ r: JoinGroupRequest, version: Int16, clientID: String) async -> JoinAnswer {
        guard !r.groupID.isEmpty else { return JoinAnswer(error: .invalidRequest) }
        guard Self.sessionTimeouts.contains(r.sessionTimeoutMs) else { return JoinAnswer(error: .invalidSessionTimeout) }
        guard groups[r.groupID] != nil || groups.count < Self.groupsMax else { return JoinAnswer(error: .invalidRequest) }
        var g = groups[r.groupID] ?? Group()
        if let type = g.protocolType, !g.members.isEmpty, type != r.protocolType || !r.protocols.contains(where: { p in g.members.values.allSatisfy { $0.protocols.contains { $0.name == p.name } } }) {
            return JoinAnswer(error: .inconsistentGroupProtocol, memberID: r.memberID)
        }
        var memberID = r.memberID
        if memberID.isEmpty {
            memberID = (clientID.isEmpty ? "member" : String(clientID.prefix(64))) + "-" + UUID().uuidString.lowercased()
            // v4+: the client rejoins with the id (so a member lost in a timed-out join can be told apart).
            if version >= 4 {
                guard g.pending.count < Self.groupMembersMax else { return JoinAnswer(error: .invalidRequest) }
                g.pending[memberID] = .now
                groups[r.groupID] = g
                return JoinAnswer(error: .memberIDRequired, memberID: memberID)
            }
        } else if g.members[memberID] == nil && g.pending[memberID] == nil {
            return JoinAnswer(error: .unknownMemberID, memberID: memberID)
        }
        guard g.members[memberID] != nil || g.members.count < Self.groupMembersMax else { return JoinAnswer(error: .invalidRequest, memberID: memberID) }
        g.pending[memberID] = nil
        let now = ContinuousClock.now
        // A join already waiting for this member (another connection's) is answered first:
        // one waiter a member, none left hanging.
        if let old = g.members[memberID]?.joinWaiter { old.resume(returning: JoinAnswer(error: .rebalanceInProgress, memberID: memberID)) }
        let member = Member(id: memberID, sessionTimeout: .milliseconds(Int(r.sessionTimeoutMs)), rebalanceTimeout: .milliseconds(Int(max(r.rebalanceTimeoutMs, r.sessionTimeoutMs))),
                            protocols: r.protocols, lastSeen: now, joinWaiter: nil, syncWaiter: g.members[memberID]?.syncWaiter, assignment: [])
        if g.members[memberID] == nil { g.order.append(memberID) }
        g.members[memberID] = member
        g.protocolType = r.protocolType
        switch g.state {
        case .empty:
            g.state = .preparingRebalance
            g.deadline = now + initialDelay
        case .stable, .completingRebalance:
            startRebalance(&g, now: now)
        case .preparingRebalance:
            break
        }
        groups[r.groupID] = g
        return await withCheckedContinuation { continuation in
            groups[r.groupID]?.members[memberID]?.joinWaiter = continuation
            completeJoinIfReady(r.groupID, now: ContinuousClock.now)
        }
    }

    /// A new generation is needed: every member must join again (they learn it from their
    /// heartbeat); those waiting for an assignment are told to rejoin now.
    private func startRebalance(_ g: inout Group, now: ContinuousClock.Instant) {
        g.state = .preparingRebalance
        let longest = g.members.values.map(\.rebalanceTimeout).max() ?? .seconds(30)
        g.deadline = now + longest
        for id in g.order {
            if let waiter = g.members[id]?.syncWaiter {
                g.members[id]?.syncWaiter = nil
                waiter.resume(returning: SyncAnswer(error: .rebalanceInProgress))
            }
        }
    }

    /// Completes a rebalance when every member has joined again (a new group: when its first
    /// wait is over), or when its deadline has passed (members that did not join are out).
    private func completeJoinIfReady(_ groupID: String, now: ContinuousClock.Instant) {
        guard var g = groups[groupID], g.state == .preparingRebalance else { return }
        let allJoined = g.members.values.allSatisfy { $0.joinWaiter != nil }
        let due = g.deadline.map { now >= $0 } ?? true
        // A first generation waits out its delay for more members; later ones complete as
        // soon as everyone is back.
        guard due || (allJoined && g.generation > 0) else { return }
        for id in g.order where g.members[id]?.joinWaiter == nil { g.members[id] = nil }
        g.order.removeAll { g.members[$0] == nil }
        guard let first = g.order.first else {
            g.state = .empty
            g.deadline = nil
            groups[groupID] = g
            return
        }
        g.generation &+= 1
        if g.leader == nil || g.members[g.leader!] == nil { g.leader = first }
        let leader = g.members[g.leader!]!
        g.protocolName = leader.protocols.first { p in g.members.values.allSatisfy { $0.protocols.contains { $0.name == p.name } } }?.name ?? leader.protocols.first?.name ?? ""
        g.state = .completingRebalance
        g.deadline = nil
        let all = g.order.map { id in (memberID: id, metadata: g.members[id]!.protocols.first { $0.name == g.protocolName }?.metadata ?? []) }
        for id in g.order {
            guard let waiter = g.members[id]?.joinWaiter else { continue }
            g.members[id]?.joinWaiter = nil
            g.members[id]?.lastSeen = now
            waiter.resume(returning: JoinAnswer(error: .none, generation: g.generation, protocolName: g.protocolName ?? "", leader: g.leader!, memberID: id,
                                                members: id == g.leader ? all : []))
        }
        groups[groupID] = g
    }

    func sync(_ r: SyncGroupRequest) async -> SyncAnswer {
        guard var g = groups[r.groupID], g.members[r.memberID] != nil else { return SyncAnswer(error: .unknownMemberID) }
        guard r.generation == g.generation else { return SyncAnswer(error: .illegalGeneration) }
        g.members[r.memberID]?.lastSeen = .now
        switch g.state {
        case .empty, .preparingRebalance:
            groups[r.groupID] = g
            return SyncAnswer(error: .rebalanceInProgress)
        case .stable:
            groups[r.groupID] = g
            return SyncAnswer(error: .none, assignment: g.members[r.memberID]!.assignment)
        case .completingRebalance:
            if r.memberID == g.leader {
                for (member, assignment) in r.assignments where g.members[member] != nil { g.members[member]?.assignment = assignment }
                g.state = .stable
                for id in g.order {
                    guard let waiter = g.members[id]?.syncWaiter else { continue }
                    g.members[id]?.syncWaiter = nil
                    waiter.resume(returning: SyncAnswer(error: .none, assignment: g.members[id]!.assignment))
                }
                groups[r.groupID] = g
                return SyncAnswer(error: .none, assignment: g.members[r.memberID]!.assignment)
            }
            if let old = g.members[r.memberID]?.syncWaiter { old.resume(returning: SyncAnswer(error: .rebalanceInProgress)) }
            g.members[r.memberID]?.syncWaiter = nil
            groups[r.groupID] = g
            return await withCheckedContinuation { continuation in
                groups[r.groupID]?.members[r.memberID]?.syncWaiter = continuation
            }
        }
    }

    // MARK: Heartbeat, leave, time

    func heartbeat(groupID: String, generation: Int32, memberID: String) -> KafkaErrorCode {
        guard var g = groups[groupID], g.members[memberID] != nil else { return .unknownMemberID }
        g.members[memberID]?.lastSeen = .now
        groups[groupID] = g
        if g.state == .preparingRebalance { return .rebalanceInProgress }
        return generation == g.generation ? .none : .illegalGeneration
    }

    /// A group with no members and no member ids outstanding is forgotten (its committed
    /// offsets are kept apart, in `KafkaOffsets`).
    private func forgetIfIdle(_ groupID: String) {
        if let g = groups[groupID], g.members.isEmpty, g.pending.isEmpty { groups[groupID] = nil }
    }

    func leave(groupID: String, memberIDs: [String]) -> [(String, KafkaErrorCode)] {
        guard var g = groups[groupID] else { return memberIDs.map { ($0, .unknownMemberID) } }
        var results: [(String, KafkaErrorCode)] = []
        for id in memberIDs {
            guard let m = g.members.removeValue(forKey: id) else { results.append((id, .unknownMemberID)); continue }
            g.order.removeAll { $0 == id }
            m.joinWaiter?.resume(returning: JoinAnswer(error: .unknownMemberID))
            m.syncWaiter?.resume(returning: SyncAnswer(error: .unknownMemberID))
            results.append((id, .none))
        }
        membersLeft(&g, groupID: groupID)
        return results
    }

    private func membersLeft(_ g: inout Group, groupID: String) {
        let now = ContinuousClock.now
        if g.members.isEmpty {
            g.state = .empty
            g.leader = nil
            g.deadline = nil
            groups[groupID] = g
            return
        }
        if g.state == .stable || g.state == .completingRebalance { startRebalance(&g, now: now) }
        groups[groupID] = g
        completeJoinIfReady(groupID, now: now)
    }

    /// Run every few hundred ms: members silent past their session timeout are out, and
    /// rebalances past their deadline complete.
    func tick() {
        let now = ContinuousClock.now
        for id in Array(groups.keys) {
            guard var g = groups[id] else { continue }
            let expired = g.members.values.filter { $0.joinWaiter == nil && $0.syncWaiter == nil && now - $0.lastSeen > $0.sessionTimeout }.map(\.id)
            g.pending = g.pending.filter { now - $0.value < Self.pendingTimeout }
            groups[id] = g
            if !expired.isEmpty {
                for m in expired { g.members[m] = nil }
                g.order.removeAll { g.members[$0] == nil }
                membersLeft(&g, groupID: id)
            }
            completeJoinIfReady(id, now: now)
            forgetIfIdle(id)
        }
    }

    func state(of groupID: String) -> (state: GroupState, generation: Int32, members: Int)? {
        groups[groupID].map { ($0.state, $0.generation, $0.members.count) }
    }

    // MARK: Offsets

    /// Validates a commit against the group (a commit with generation −1 and no member id
    /// comes from outside any generation, and is taken as it is).
    func commitAllowed(groupID: String, generation: Int32, memberID: String) -> KafkaErrorCode {
        // From outside any generation: only into a group with no members (as Kafka).
        if generation == -1 && memberID.isEmpty { return (groups[groupID]?.members.isEmpty ?? true) ? .none : .unknownMemberID }
        guard let g = groups[groupID], g.members[memberID] != nil else { return .unknownMemberID }
        guard generation == g.generation else { return .illegalGeneration }
        // Commits while a rebalance is prepared are taken (members commit as their partitions
        // are revoked); while the new assignment is being handed out they wait for it.
        return g.state == .completingRebalance ? .rebalanceInProgress : .none
    }
}
