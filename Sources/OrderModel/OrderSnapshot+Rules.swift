/// The lifecycle rules (docs/EVENTS.md, "Rules"), checked in their documented order, and the
/// changes an accepted event makes. `apply` changes nothing when it throws.
///
/// The rules read the event's binary form in place (`EventView`): a replay, an audit and the
/// store's writes apply stored or encoded bytes without building an `OrderEvent`. An
/// `OrderEvent` is applied by encoding it first — the same rules, the one implementation.
extension OrderSnapshot {
    /// What an event is, measured against the order before it.
    public enum Admission: Equatable, Sendable {
        /// A new event: apply it.
        case accept
        /// Its `event_id` was already stored for this order, at this position: store nothing.
        case duplicate(position: UInt64)
    }

    /// Rules 1 and 2: idempotency, then the expected version.
    public func admit(_ event: OrderEvent, expected: ExpectedVersion) throws(OrderError) -> Admission {
        if let id = event.eventID, let position = position(ofEventID: id) { return .duplicate(position: position) }
        try expect(expected, event.type)
        return .accept
    }

    /// `admit` of an event read in place.
    public func admit(_ event: EventView, expected: ExpectedVersion) throws(OrderError) -> Admission {
        if let id = event.eventID, let k = state.firstIndex(.eventIDs, as: EventIDRecord.self, key: \.id, equals: id) {
            return .duplicate(position: state.record(.eventIDs, k, as: EventIDRecord.self).position)
        }
        try expect(expected, event.type)
        return .accept
    }

    private func expect(_ expected: ExpectedVersion, _ type: EventType) throws(OrderError) {
        switch expected {
        case .any: break
        case .none:
            if exists { throw violation(.versionConflict, type, "expected the order not to exist; it has \(version) events") }
        case .exactly(let n):
            if Int(version) != n { throw violation(.versionConflict, type, "expected version \(n); the order's version is \(version)") }
        }
    }

    /// Checks rules 3–8 for `event` and, if it passes, applies it. `time` is when it happened
    /// (its `ts`, else its recorded time), used for milestones.
    public mutating func apply(_ event: OrderEvent, position: UInt64, time: Int64) throws(OrderError) {
        // A time out of range has no binary form (a reader refuses it): refused here as the
        // rules refuse it.
        if let ts = event.ts, !ts.isInRange {
            throw violation(.invalidTimestamp, event.type, "ts is outside years 0001–9999 or its offset outside ±23:59")
        }
        let bytes = event.encodeBinary()
        let applied = bytes.withUnsafeBytes { raw in
            Result { () throws(OrderError) in try self.apply(EventView.read(type: event.type, raw), position: position, time: time) }
        }
        try applied.get()
    }

    /// `apply` of an event read in place (a stored record, an encoded payload).
    public mutating func apply(_ event: EventView, position: UInt64, time: Int64) throws(OrderError) {
        // Every check runs before the first change, and changes cannot fail: a rejected
        // event leaves the snapshot as it was, without copying it first.
        try check(event)
        change(event, time: time)
        // Milestones follow the statuses, whatever event brought them about (a cancellation
        // of the undelivered rest delivers an order; a price cut can make it paid).
        if state.header.paidAt == .min && isPaid { state.header.paidAt = time }
        if state.header.deliveredAt == .min && status == .delivered { state.header.deliveredAt = time }
        state.header.version += 1
        state.header.lastPosition = position
        if event.type == .orderPlaced { state.header.placedPosition = position }
        if let id = event.eventID { state.append(.eventIDs, EventIDRecord(id: state.text(id), position: position)) }
    }

    /// The snapshot of `id` after `events` (its stored events, oldest first). An event the
    /// rules refuse is skipped and passed to `refused`: stored events are replayed, not judged.
    public static func replaying(
        _ id: OrderID, _ events: some Sequence<StoredEvent>,
        refused: (StoredEvent, OrderError) -> Void = { _, _ in }
    ) -> OrderSnapshot {
        var snapshot = OrderSnapshot(orderID: id)
        for stored in events {
            do { try snapshot.apply(stored.event, position: stored.position, time: stored.effectiveTime) } catch {
                refused(stored, error)
            }
        }
        return snapshot
    }

    func violation(_ code: OrderError.Code, _ type: EventType, _ message: String) -> OrderError {
        OrderError(code, "\(type.rawValue) for order \(orderID): \(message)", orderID: orderID.value)
    }

    func violation(_ code: OrderError.Code, _ event: EventView, _ message: String) -> OrderError {
        violation(code, event.type, message)
    }

    // MARK: - Checks

    private func check(_ e: EventView) throws(OrderError) {
        if let ts = e.ts, !ts.isInRange {
            throw violation(.invalidTimestamp, e, "ts is outside years 0001–9999 or its offset outside ±23:59")
        }
        // Rule 3 (shape): the first event is OrderPlaced, once.
        if !exists, e.type != .orderPlaced {
            throw violation(.firstEventNotPlaced, e, "the first event of an order must be OrderPlaced")
        }
        switch e.data {
        case .orderPlaced(_, _, let currency, let placed, let shipping, let tax, let discount):
            if exists { throw violation(.alreadyPlaced, e, "the order was already placed (version \(version))") }
            guard !placed.isEmpty else { throw violation(.invalidQuantity, e, "an order needs at least one line") }
            guard placed.count <= OrderSnapshot.linesMax else { throw violation(.invalidQuantity, e, "\(placed.count) lines; at most \(OrderSnapshot.linesMax)") }
            var seen = SkuSet()
            for line in placed {
                if !seen.insert(line.sku) { throw violation(.duplicateSku, e, "sku \(line.sku) appears twice") }
                if line.qty < 1 || line.qty > OrderSnapshot.quantityMax {
                    throw violation(.invalidQuantity, e, "sku \(line.sku) has qty \(line.qty); 1…\(OrderSnapshot.quantityMax)")
                }
                if line.unitPriceMinor < 0 { throw violation(.negativeAmount, e, "sku \(line.sku) has unit_price_minor \(line.unitPriceMinor)") }
            }
            for (name, value) in [("shipping_minor", shipping), ("tax_minor", tax), ("discount_minor", discount)] {
                if let value, value < 0 { throw violation(.negativeAmount, e, "\(name) is \(value)") }
            }
            let c = currency.bytes
            guard c.count == 3, c.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else {
                throw violation(.invalidCurrency, e, "currency \"\(currency)\" is not three capital letters")
            }
            for line in placed where line.unitPriceMinor > OrderSnapshot.amountMax {
                throw violation(.amountOutOfRange, e, "sku \(line.sku) has unit_price_minor \(line.unitPriceMinor)")
            }
            for (name, value) in [("shipping_minor", shipping), ("tax_minor", tax), ("discount_minor", discount)] {
                if let value, value > OrderSnapshot.amountMax { throw violation(.amountOutOfRange, e, "\(name) is \(value)") }
            }
            // Every later sum is bounded by this total or by the captured amount, so checking
            // it here keeps all order arithmetic inside Int64.
            var sum: Int64 = (shipping ?? 0) + (tax ?? 0)
            for line in placed {
                let (product, o1) = line.qty.multipliedReportingOverflow(by: line.unitPriceMinor)
                let (next, o2) = sum.addingReportingOverflow(product)
                guard !o1, !o2, next <= OrderSnapshot.amountMax else {
                    throw violation(.amountOutOfRange, e, "the order total exceeds \(OrderSnapshot.amountMax) minor units")
                }
                sum = next
            }
            if sum - (discount ?? 0) < 0 {
                throw violation(.negativeTotal, e, "discount_minor \(discount ?? 0) exceeds the order's \(sum)")
            }

        case .paymentAuthorized(let id, let amount):
            try nonNegative(amount, e)
            if payment(id)?.record.authorizations ?? 0 > 0 { throw violation(.duplicateID, e, "payment \(id) was already authorized") }
            if authorizedMinor + amount > OrderSnapshot.amountMax {
                throw violation(.amountOutOfRange, e, "authorizations would exceed \(OrderSnapshot.amountMax) minor units")
            }
            try notCancelled(e)

        case .paymentCaptured(let id, let amount):
            try nonNegative(amount, e)
            let p = try authorizedPayment(id, e).record
            if p.captured + amount > p.authorized - p.voided {
                throw violation(.overCapture, e, "capturing \(amount) on payment \(id) would make captured \(p.captured + amount) > authorized \(p.authorized) − voided \(p.voided)")
            }
            try notCancelled(e)

        case .paymentVoided(let id, let amount):
            try nonNegative(amount, e)
            let p = try authorizedPayment(id, e).record
            if p.voided + amount > p.authorized - p.captured {
                throw violation(.overVoid, e, "voiding \(amount) on payment \(id) would make voided \(p.voided + amount) > authorized \(p.authorized) − captured \(p.captured)")
            }

        case .paymentFailed:
            try notCancelled(e)

        case .fulfillmentRequested(let id, _, let requested):
            if fulfillmentIndex(id) != nil { throw violation(.duplicateID, e, "fulfillment \(id) already exists") }
            try shapeOf(requested, e)
            try knownSkus(requested, e)
            for r in requested {
                let line = lineRecord(lineIndex(r.sku)!)
                let open = line.ordered - line.cancelled - line.requested
                if r.qty > open {
                    throw violation(.overFulfillment, e, "sku \(r.sku): requesting \(r.qty) but only \(open) are unrequested (ordered \(line.ordered), cancelled \(line.cancelled), requested \(line.requested))")
                }
            }
            try notCancelled(e)

        case .fulfillmentPacked(let id):
            let f = try fulfillment(id, e).record.fulfillmentState
            if f != .requested { throw violation(.invalidTransition, e, "fulfillment \(id) is \(f.rawValue); only a requested one can be packed") }
            try notCancelled(e)

        case .shipped(let id, _, _):
            let f = try fulfillment(id, e).record.fulfillmentState
            if f != .requested && f != .packed {
                throw violation(.invalidTransition, e, "fulfillment \(id) is \(f.rawValue); only a requested or packed one can ship")
            }
            try notCancelled(e)

        case .delivered(let id):
            let f = try fulfillment(id, e).record.fulfillmentState
            if f != .shipped { throw violation(.invalidTransition, e, "fulfillment \(id) is \(f.rawValue); only a shipped one can be delivered") }
            try notCancelled(e)

        case .itemsCancelled(let cancelled, _):
            try shapeOf(cancelled, e)
            try knownSkus(cancelled, e)
            for c in cancelled {
                let line = lineRecord(lineIndex(c.sku)!)
                let open = line.ordered - line.cancelled - line.requested
                if c.qty > open {
                    throw violation(.overCancellation, e, "sku \(c.sku): cancelling \(c.qty) but only \(open) can be (ordered \(line.ordered), cancelled \(line.cancelled), requested \(line.requested))")
                }
            }
            // No total check: the discount's and the adjustments' shares go with the cancelled
            // units, and a total stays within 0…2^53 (EVENTS.md §7), so a cancellation is never
            // refused for their arithmetic.
            try notCancelled(e)

        case .orderCancelled:
            let shipped = state.sum(.lines, as: LineRecord.self) { $0.shipped }
            if shipped > 0 { throw violation(.cancelAfterShipment, e, "\(shipped) units have shipped") }
            try notCancelled(e)

        case .returnRequested(let id, let requested, _):
            if returnIndex(id) != nil { throw violation(.duplicateID, e, "return \(id) already exists") }
            try shapeOf(requested, e)
            try knownSkus(requested, e)
            try notCancelled(e)
            for r in requested {
                let line = lineRecord(lineIndex(r.sku)!)
                if r.qty > line.delivered - line.returnRequested {
                    throw violation(.overReturn, e, "sku \(r.sku): returning \(r.qty) but delivered \(line.delivered) − already requested for return \(line.returnRequested) = \(line.delivered - line.returnRequested)")
                }
            }

        case .returnReceived(let id, let received):
            // An empty `lines` closes a return when nothing came back.
            if let received, !received.isEmpty {
                try shapeOf(received, e)
                try knownSkus(received, e)
            }
            try notCancelled(e)
            guard let k = returnIndex(id) else { throw violation(.unknownReturn, e, "return \(id) does not exist") }
            let ret = state.record(.returns, k, as: ReturnRecord.self)
            if ret.isReceived != 0 { throw violation(.returnAlreadyReceived, e, "return \(id) was already received") }
            if let received {
                for r in received {
                    let line = UInt32(lineIndex(r.sku)!)
                    let requested = unitSum(first: ret.firstUnit, count: ret.unitCount) { $0.line == line ? $0.qty : 0 }
                    if r.qty > requested { throw violation(.overReturn, e, "sku \(r.sku): receiving \(r.qty) but return \(id) requested \(requested)") }
                }
            }

        case .refundIssued(let id, let amount, let paymentID, let returnID):
            try nonNegative(amount, e)
            if state.firstIndex(.refunds, as: RefundRecord.self, key: \.id, equals: id) != nil { throw violation(.duplicateID, e, "refund \(id) already exists") }
            let refunded = refundedMinor, captured = capturedMinor
            if refunded + amount > captured {
                throw violation(.overRefund, e, "refunding \(amount) would make refunded \(refunded + amount) > captured \(captured)")
            }
            if let paymentID {
                let p = try authorizedPayment(paymentID, e).record
                if amount > p.captured - p.refunded {
                    throw violation(.overRefund, e, "refunding \(amount) on payment \(paymentID) exceeds its captured \(p.captured) − refunded \(p.refunded)")
                }
            }
            if let returnID, returnIndex(returnID) == nil {
                throw violation(.unknownReturn, e, "return \(returnID) does not exist")
            }

        case .priceAdjusted(let sku, let amount, _):
            guard amount.magnitude <= UInt64(OrderSnapshot.amountMax) else {
                throw violation(.amountOutOfRange, e, "amount_minor \(amount) is beyond ±\(OrderSnapshot.amountMax)")
            }
            guard let i = lineIndex(sku) else { throw violation(.unknownSku, e, "sku \(sku) is not in the order") }
            // The adjustment applies to the line's active units (EVENTS.md §7).
            let line = lineRecord(i)
            guard (line.adjustmentsMinor + amount).magnitude <= UInt64(OrderSnapshot.amountMax) else {
                throw violation(.amountOutOfRange, e, "sku \(sku)'s adjustments would pass ±\(OrderSnapshot.amountMax) minor units")
            }
            // A line never costs less than nothing: then cancelling its units never takes the
            // total below 0 on their account (their share of a discount can still raise it).
            if amount < 0 && line.activeValueMinor + amount < 0 {
                throw violation(.negativeTotal, e, "adjusting by \(amount) would take sku \(sku) below 0 (its active units cost \(line.activeValueMinor))")
            }
            let unclamped = activeMerchandiseMinor + adjustmentsAppliedMinor + amount + shippingMinor + taxMinor - discountAppliedMinor
            if amount < 0 && unclamped < 0 {
                throw violation(.negativeTotal, e, "adjusting by \(amount) would make the total \(unclamped)")
            }
            if unclamped > OrderSnapshot.amountMax {
                throw violation(.amountOutOfRange, e, "the total would exceed \(OrderSnapshot.amountMax) minor units")
            }
            try notCancelled(e)
            // Every unit of the line cancelled: nothing is left for the adjustment to apply to.
            guard line.active > 0 else { throw violation(.invalidQuantity, e, "sku \(sku) has no active units to adjust") }

        case .fulfillmentCancelled(let id, let cancelled, _):
            let f = try fulfillment(id, e).record
            if f.fulfillmentState != .requested && f.fulfillmentState != .packed {
                throw violation(.invalidTransition, e, "fulfillment \(id) is \(f.fulfillmentState.rawValue); only a requested or packed one can be cancelled")
            }
            if let cancelled {
                try shapeOf(cancelled, e)
                try knownSkus(cancelled, e)
                for c in cancelled {
                    let line = UInt32(lineIndex(c.sku)!)
                    let holds = unitSum(first: f.firstUnit, count: f.unitCount) { $0.line == line ? $0.open : 0 }
                    if c.qty > holds {
                        throw violation(.overCancellation, e, "sku \(c.sku): cancelling \(c.qty) of fulfillment \(id), which holds \(holds)")
                    }
                }
            }
            try notCancelled(e)

        case .noteAdded:
            break
        }
    }

    /// 0 ≤ amount ≤ 2^53. The upper bound keeps every sum of two amounts inside Int64, so the
    /// checks below can add before they compare.
    private func nonNegative(_ amount: Money, _ e: EventView) throws(OrderError) {
        if amount < 0 { throw violation(.negativeAmount, e, "amount_minor is \(amount)") }
        if amount > OrderSnapshot.amountMax { throw violation(.amountOutOfRange, e, "amount_minor \(amount) exceeds \(OrderSnapshot.amountMax)") }
    }

    private func shapeOf(_ lines: LinesView, _ e: EventView) throws(OrderError) {
        guard !lines.isEmpty else { throw violation(.invalidQuantity, e, "lines is empty") }
        guard lines.count <= OrderSnapshot.linesMax else { throw violation(.invalidQuantity, e, "\(lines.count) lines; at most \(OrderSnapshot.linesMax)") }
        for l in lines where l.qty < 1 || l.qty > OrderSnapshot.quantityMax {
            throw violation(.invalidQuantity, e, "sku \(l.sku) has qty \(l.qty); 1…\(OrderSnapshot.quantityMax)")
        }
        var seen = SkuSet()
        for l in lines where !seen.insert(l.sku) { throw violation(.duplicateSku, e, "sku \(l.sku) appears twice") }
    }

    private func knownSkus(_ lines: LinesView, _ e: EventView) throws(OrderError) {
        for l in lines where lineIndex(l.sku) == nil { throw violation(.unknownSku, e, "sku \(l.sku) is not in the order") }
    }

    /// Rule 7: after OrderCancelled only PaymentVoided, RefundIssued and NoteAdded.
    private func notCancelled(_ e: EventView) throws(OrderError) {
        if isCancelled { throw violation(.orderCancelled, e, "the order is cancelled; only PaymentVoided, RefundIssued and NoteAdded are accepted") }
    }

    private func fulfillment(_ id: TextView, _ e: EventView) throws(OrderError) -> (index: Int, record: FulfillmentRecord) {
        guard let k = fulfillmentIndex(id) else { throw violation(.unknownFulfillment, e, "fulfillment \(id) does not exist") }
        return (k, state.record(.fulfillments, k))
    }

    /// A payment a PaymentAuthorized created: captures, voids and refunds name one.
    private func authorizedPayment(_ id: TextView, _ e: EventView) throws(OrderError) -> (index: Int, record: PaymentRecord) {
        guard let p = payment(id), p.record.authorizations > 0 else {
            throw violation(.unknownPayment, e, "payment \(id) was never authorized; send PaymentAuthorized for it first (or leave payment_id out of a refund)")
        }
        return p
    }

    // MARK: - Records

    func lineRecord(_ i: Int) -> LineRecord { state.record(.lines, i) }

    func payment(_ id: TextView) -> (index: Int, record: PaymentRecord)? {
        state.firstIndex(.payments, as: PaymentRecord.self, key: \.id, equals: id).map { ($0, state.record(.payments, $0)) }
    }

    func fulfillmentIndex(_ id: TextView) -> Int? { state.firstIndex(.fulfillments, as: FulfillmentRecord.self, key: \.id, equals: id) }

    func returnIndex(_ id: TextView) -> Int? { state.firstIndex(.returns, as: ReturnRecord.self, key: \.id, equals: id) }

    /// Σ `body` over `count` units from `first`.
    func unitSum(first: UInt32, count: UInt32, _ body: (UnitRecord) -> Int64) -> Int64 {
        var total: Int64 = 0
        for k in Int(first)..<Int(first + count) { total += body(state.record(.units, k)) }
        return total
    }

    /// A unit for `sku` of line `line`: its own spelling kept only when its bytes differ from
    /// the line's.
    private mutating func unit(_ sku: TextView, line: Int, qty: Int64) -> UnitRecord {
        let same = state.text(lineRecord(line).sku, hasBytesOf: sku)
        return UnitRecord(line: UInt32(line), qty: qty, sku: same ? .none : state.text(sku))
    }

    /// Adds a unit for each of `lines` at the end of the units table; returns the first's index.
    private mutating func appendUnits(_ lines: LinesView) -> UInt32 {
        let first = UInt32(state.count(.units))
        for l in lines {
            let k = lineIndex(l.sku)!
            state.append(.units, unit(l.sku, line: k, qty: l.qty))
        }
        return first
    }

    private mutating func updateLine(_ i: Int, _ body: (inout LineRecord) -> Void) { state.update(.lines, i, as: LineRecord.self, body) }

    /// Adds each of fulfillment `i`'s open units to a line counter.
    private mutating func addOpenUnits(of f: FulfillmentRecord, to counter: WritableKeyPath<LineRecord, Int64>) {
        for k in Int(f.firstUnit)..<Int(f.firstUnit + f.unitCount) {
            let u = state.record(.units, k, as: UnitRecord.self)
            if u.open > 0 { updateLine(Int(u.line)) { $0[keyPath: counter] += u.open } }
        }
    }

    // MARK: - Changes

    private mutating func change(_ e: EventView, time: Int64) {
        switch e.data {
        case .orderPlaced(let customer, let channel, let currency, let placed, let shipping, let tax, let discount):
            state.header.customerID = state.text(customer)
            state.header.channel = state.text(channel)
            state.header.currency = state.text(currency)
            for p in placed { state.append(.lines, LineRecord(sku: state.text(p.sku), unitPriceMinor: p.unitPriceMinor, ordered: p.qty)) }
            state.header.shippingMinor = shipping ?? 0
            state.header.taxMinor = tax ?? 0
            state.header.discountMinor = discount ?? 0
            state.header.placedAt = time
        case .paymentAuthorized(let id, let amount): updatePayment(id) { $0.authorized += amount; $0.authorizations += 1 }
        case .paymentCaptured(let id, let amount): updatePayment(id) { $0.captured += amount }
        case .paymentVoided(let id, let amount): updatePayment(id) { $0.voided += amount }
        case .paymentFailed(let id, let reason):
            let text = state.text(reason)
            updatePayment(id) { $0.failures += 1; $0.lastFailureReason = text }
        case .fulfillmentRequested(let id, let location, let requested):
            let first = appendUnits(requested)
            state.append(.fulfillments, FulfillmentRecord(id: state.text(id), location: state.text(location), firstUnit: first, unitCount: UInt32(requested.count)))
            for r in requested { updateLine(lineIndex(r.sku)!) { $0.requested += r.qty } }
        case .fulfillmentPacked(let id):
            let i = fulfillmentIndex(id)!
            state.update(.fulfillments, i, as: FulfillmentRecord.self) { $0.fulfillmentState = .packed }
            addOpenUnits(of: state.record(.fulfillments, i), to: \.packed)
        case .shipped(let id, let carrier, let tracking):
            let i = fulfillmentIndex(id)!
            let c = state.text(carrier), t = state.text(tracking)
            state.update(.fulfillments, i, as: FulfillmentRecord.self) { $0.fulfillmentState = .shipped; $0.carrier = c; $0.trackingNo = t }
            addOpenUnits(of: state.record(.fulfillments, i), to: \.shipped)
            if state.header.shippedAt == .min { state.header.shippedAt = time }
        case .delivered(let id):
            let i = fulfillmentIndex(id)!
            state.update(.fulfillments, i, as: FulfillmentRecord.self) { $0.fulfillmentState = .delivered }
            addOpenUnits(of: state.record(.fulfillments, i), to: \.delivered)
        case .itemsCancelled(let cancelled, _):
            for c in cancelled {
                // The cancelled units take their share of the line's adjustments with them.
                updateLine(lineIndex(c.sku)!) { l in
                    l.adjustmentsAppliedMinor -= SkuLine.share(of: l.adjustmentsAppliedMinor, units: c.qty, active: l.active)
                    l.cancelled += c.qty
                }
            }
        case .orderCancelled:
            state.header.flags |= 1
            for i in 0..<state.count(.lines) { updateLine(i) { $0.cancelled = $0.ordered; $0.adjustmentsAppliedMinor = 0 } }
            for i in 0..<state.count(.fulfillments) {
                state.update(.fulfillments, i, as: FulfillmentRecord.self) { f in
                    if f.fulfillmentState == .requested || f.fulfillmentState == .packed { f.fulfillmentState = .cancelled }
                }
            }
        case .returnRequested(let id, let requested, let reason):
            let first = appendUnits(requested)
            state.append(.returns, ReturnRecord(id: state.text(id), reason: state.text(reason), firstUnit: first, unitCount: UInt32(requested.count)))
            for r in requested { updateLine(lineIndex(r.sku)!) { $0.returnRequested += r.qty } }
        case .returnReceived(let id, let received):
            let i = returnIndex(id)!
            var ret = state.record(.returns, i, as: ReturnRecord.self)
            if let received {
                ret.firstReceived = appendUnits(received)
                ret.receivedCount = UInt32(received.count)
            } else {
                // All that was asked for came back: the return's own units, again.
                ret.firstReceived = UInt32(state.count(.units))
                ret.receivedCount = ret.unitCount
                for k in Int(ret.firstUnit)..<Int(ret.firstUnit + ret.unitCount) { state.append(.units, state.record(.units, k, as: UnitRecord.self)) }
            }
            ret.isReceived = 1
            state.setRecord(.returns, i, ret)
            for k in Int(ret.firstReceived)..<Int(ret.firstReceived + ret.receivedCount) {
                let u = state.record(.units, k, as: UnitRecord.self)
                updateLine(Int(u.line)) { $0.returned += u.qty }
            }
            // What was asked for and did not come back is returnable again (EVENTS.md §6).
            for k in Int(ret.firstUnit)..<Int(ret.firstUnit + ret.unitCount) {
                let r = state.record(.units, k, as: UnitRecord.self)
                let came = unitSum(first: ret.firstReceived, count: ret.receivedCount) { $0.line == r.line ? $0.qty : 0 }
                updateLine(Int(r.line)) { $0.returnRequested -= max(0, r.qty - came) }
            }
        case .refundIssued(let id, let amount, let paymentID, let returnID):
            state.append(.refunds, RefundRecord(id: state.text(id), paymentID: state.text(paymentID), returnID: state.text(returnID), amountMinor: amount))
            if let paymentID { updatePayment(paymentID) { $0.refunded += amount } }
        case .priceAdjusted(let sku, let amount, _):
            updateLine(lineIndex(sku)!) { $0.adjustmentsMinor += amount; $0.adjustmentsAppliedMinor += amount }
        case .noteAdded:
            state.header.notes += 1
        case .fulfillmentCancelled(let id, let cancelled, _):
            let i = fulfillmentIndex(id)!
            var f = state.record(.fulfillments, i, as: FulfillmentRecord.self)
            let packed = f.fulfillmentState == .packed
            // Each unit cancelled: (its index in the units table, how many, the event's spelling).
            var taken: [(unit: Int, qty: Int64, sku: TextView?)] = []
            let units = Int(f.firstUnit)..<Int(f.firstUnit + f.unitCount)
            if let cancelled {
                for c in cancelled {
                    let line = UInt32(lineIndex(c.sku)!)
                    let k = units.first { state.record(.units, $0, as: UnitRecord.self).line == line }!
                    taken.append((k, c.qty, c.sku))
                }
            } else {
                for k in units {
                    let open = state.record(.units, k, as: UnitRecord.self).open
                    if open > 0 { taken.append((k, open, nil)) }
                }
            }
            for t in taken {
                var u = state.record(.units, t.unit, as: UnitRecord.self)
                if u.cancelRank == 0 {
                    f.cancelledSkus += 1
                    u.cancelRank = f.cancelledSkus
                    if let sku = t.sku, !unitSpelled(u, as: sku) { u.cancelSku = state.text(sku) }
                }
                u.cancelled += t.qty
                state.setRecord(.units, t.unit, u)
                updateLine(Int(u.line)) { l in
                    l.requested -= t.qty
                    if packed { l.packed -= t.qty }
                }
            }
            if !units.contains(where: { state.record(.units, $0, as: UnitRecord.self).open > 0 }) { f.fulfillmentState = .cancelled }
            state.setRecord(.fulfillments, i, f)
        }
    }

    /// Whether `sku` has the same bytes as unit `u`'s sku.
    private func unitSpelled(_ u: UnitRecord, as sku: TextView) -> Bool {
        state.text(u.sku.isNone ? lineRecord(Int(u.line)).sku : u.sku, hasBytesOf: sku)
    }

    private mutating func updatePayment(_ id: TextView, _ body: (inout PaymentRecord) -> Void) {
        if let i = state.firstIndex(.payments, as: PaymentRecord.self, key: \.id, equals: id) {
            state.update(.payments, i, as: PaymentRecord.self, body)
        } else {
            var p = PaymentRecord(id: state.text(id))
            body(&p)
            state.append(.payments, p)
        }
    }
}

/// Skus seen so far in one event's lines, to find one given twice: a scan for the few lines an
/// event has, a set past that (an event may have 1,000).
struct SkuSet {
    private var few: [TextView] = []
    private var many: Set<String>?

    /// False when `sku` was already in.
    mutating func insert(_ sku: TextView) -> Bool {
        if many != nil { return many!.insert(sku.string).inserted }
        if few.contains(where: { $0 == sku }) { return false }
        few.append(sku)
        if few.count > 16 { many = Set(few.map(\.string)) }
        return true
    }
}
