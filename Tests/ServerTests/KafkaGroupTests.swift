import Foundation
import KafkaProtocol
import LogStorage
import OrderStore
import Testing
@testable import OrderLogServer

@Suite("Kafka consumer groups, without sockets")
struct KafkaGroupTests {
    func coordinator() -> (KafkaGroupCoordinator, String) {
        let dir = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-group-\(UUID().uuidString.prefix(8))"
        return (KafkaGroupCoordinator(offsets: KafkaOffsets(directory: dir), initialDelay: .milliseconds(200)), dir)
    }

    func joinRequest(_ member: String, group: String = "g", session: Int32 = 10_000) -> JoinGroupRequest {
        JoinGroupRequest(groupID: group, sessionTimeoutMs: session, rebalanceTimeoutMs: 5_000, memberID: member, groupInstanceID: nil,
                         protocolType: "consumer", protocols: [.init(name: "range", metadata: Array(member.utf8))])
    }

    /// Joins with an empty id (v5: MEMBER_ID_REQUIRED first), then with the id given.
    func join(_ c: KafkaGroupCoordinator, group: String = "g", session: Int32 = 10_000) async -> KafkaGroupCoordinator.JoinAnswer {
        let first = await c.join(joinRequest("", group: group, session: session), version: 5, clientID: "test")
        #expect(first.error == .memberIDRequired)
        return await c.join(joinRequest(first.memberID, group: group, session: session), version: 5, clientID: "test")
    }

    /// Ticks the coordinator's clock until `done`.
    func ticking<T: Sendable>(_ c: KafkaGroupCoordinator, _ body: @escaping @Sendable () async -> T) async -> T {
        let ticker = Task { while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(50)); await c.tick() } }
        defer { ticker.cancel() }
        return await body()
    }

    @Test("three members joining together get one generation, one leader who sees all three, and each the assignment the leader gave it")
    func threeMembersJoinAndSync() async throws {
        let (c, dir) = coordinator()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let answers = await ticking(c) {
            await withTaskGroup(of: KafkaGroupCoordinator.JoinAnswer.self) { g in
                for _ in 0..<3 { g.addTask { await self.join(c) } }
                var all: [KafkaGroupCoordinator.JoinAnswer] = []
                for await a in g { all.append(a) }
                return all
            }
        }
        #expect(answers.allSatisfy { $0.error == .none && $0.generation == 1 && $0.protocolName == "range" })
        let leaders = Set(answers.map(\.leader))
        #expect(leaders.count == 1)
        let leader = try #require(answers.first { $0.memberID == $0.leader })
        #expect(leader.members.count == 3)
        #expect(answers.filter { $0.memberID != $0.leader }.allSatisfy { $0.members.isEmpty })
        // The followers sync first (they wait), then the leader assigns.
        let assignments = Dictionary(uniqueKeysWithValues: answers.map { ($0.memberID, Array("parts-of-\($0.memberID)".utf8)) })
        let synced = await withTaskGroup(of: (String, KafkaGroupCoordinator.SyncAnswer).self) { g in
            for a in answers where a.memberID != a.leader {
                g.addTask { (a.memberID, await c.sync(SyncGroupRequest(groupID: "g", generation: 1, memberID: a.memberID, assignments: []))) }
            }
            g.addTask {
                try? await Task.sleep(for: .milliseconds(100))
                return (leader.memberID, await c.sync(SyncGroupRequest(groupID: "g", generation: 1, memberID: leader.memberID,
                                                                       assignments: assignments.map { ($0.key, $0.value) })))
            }
            var all: [(String, KafkaGroupCoordinator.SyncAnswer)] = []
            for await s in g { all.append(s) }
            return all
        }
        for (member, answer) in synced {
            #expect(answer.error == .none)
            #expect(answer.assignment == assignments[member])
        }
        #expect(await c.state(of: "g")?.state == .stable)
        #expect(await c.heartbeat(groupID: "g", generation: 1, memberID: leader.memberID) == .none)
        #expect(await c.heartbeat(groupID: "g", generation: 0, memberID: leader.memberID) == .illegalGeneration)
        #expect(await c.heartbeat(groupID: "g", generation: 1, memberID: "stranger") == .unknownMemberID)
    }

    @Test("a member that leaves, or goes silent past its session timeout, starts a new generation for the rest, who learn it from their heartbeat")
    func leaveAndTimeoutRebalance() async throws {
        let (c, dir) = coordinator()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let two = await ticking(c) {
            await withTaskGroup(of: KafkaGroupCoordinator.JoinAnswer.self) { g in
                for _ in 0..<2 { g.addTask { await self.join(c, session: 1_000) } }
                var all: [KafkaGroupCoordinator.JoinAnswer] = []
                for await a in g { all.append(a) }
                return all
            }
        }
        #expect(two.count == 2 && two.allSatisfy { $0.generation == 1 })
        let (a, b) = (two[0].memberID, two[1].memberID)
        let leader = two[0].leader
        _ = await withTaskGroup(of: Void.self) { g in
            for m in [a, b] { g.addTask { _ = await c.sync(SyncGroupRequest(groupID: "g", generation: 1, memberID: m, assignments: m == leader ? [(a, [1]), (b, [2])] : [])) } }
        }
        // b leaves: a's heartbeat says rebalance; a rejoins alone and gets generation 2.
        #expect(await c.leave(groupID: "g", memberIDs: [b]).first?.1 == KafkaErrorCode.none)
        #expect(await c.heartbeat(groupID: "g", generation: 1, memberID: a) == .rebalanceInProgress)
        let again = await ticking(c) { await c.join(self.joinRequest(a, session: 1_000), version: 5, clientID: "test") }
        #expect(again.error == .none && again.generation == 2 && again.leader == a)
        _ = await c.sync(SyncGroupRequest(groupID: "g", generation: 2, memberID: a, assignments: [(a, [1, 2])]))
        // a goes silent past its 1 s session: the group empties.
        try await Task.sleep(for: .milliseconds(1_300))
        await c.tick()
        #expect((await c.state(of: "g")?.members ?? 0) == 0)  // an empty group is forgotten
        #expect(await c.heartbeat(groupID: "g", generation: 2, memberID: a) == .unknownMemberID)
    }

    @Test("committed offsets survive a restart of the broker (the file is rewritten whole, atomically); a damaged file is set aside and reported, never half-read")
    func offsetsAreDurable() throws {
        let dir = FileManager.default.temporaryDirectory.path + "/orderlog-kafka-offsets-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = KafkaOffsets(directory: dir)
        try first.commit(group: "g", [("orders", 0, .init(offset: 42, metadata: "m")), ("orders", 3, .init(offset: 7, metadata: nil))])
        try first.commit(group: "h", [("orders", 1, .init(offset: 9, metadata: nil))])
        let second = KafkaOffsets(directory: dir)
        #expect(second.problem == nil)
        #expect(second.committed(group: "g")["orders"]?[0] == .init(offset: 42, metadata: "m"))
        #expect(second.committed(group: "g")["orders"]?[3]?.offset == 7)
        #expect(second.committed(group: "h")["orders"]?[1]?.offset == 9)
        try Data("{\"g\": {\"orders\": {\"0\": ".utf8).write(to: URL(fileURLWithPath: dir + "/offsets.json"))
        let third = KafkaOffsets(directory: dir)
        #expect(third.problem != nil)
        #expect(third.committed(group: "g").isEmpty)
        #expect(FileManager.default.fileExists(atPath: dir + "/offsets.json.bad"))
    }
}
