import Testing

@testable import ColonyAgents

@Suite("The units tool")
struct UnitsToolTests {
    @Test("converts within a dimension, exactly where the factors are whole")
    func conversions() throws {
        #expect(try UnitsTool.convert("7 km in m") == "7000")
        #expect(try UnitsTool.convert("90 MIN to h") == "1.5")
        #expect(try UnitsTool.convert("3 kg in g") == "3000")
        #expect(try UnitsTool.convert("1 mi in ft") == "5280")
        #expect(try UnitsTool.convert("16 oz in lb") == "1")
        #expect(try UnitsTool.convert("2 week in h") == "336")
        #expect(try UnitsTool.convert("-2.5 m in cm") == "-250")
    }

    @Test("refuses what it cannot read, with the reason and the way to write it")
    func refusals() async throws {
        #expect(
            throws: ToolError.failed(
                tool: "convert", message: "cannot read 'seven km in m': write it as VALUE UNIT in UNIT, e.g. '3 kg in g'")
        ) {
            try UnitsTool.convert("seven km in m")
        }
        #expect(throws: ToolError.failed(tool: "convert", message: "cannot convert kg (mass) to m (length)")) {
            try UnitsTool.convert("3 kg in m")
        }
        do {
            _ = try UnitsTool.convert("3 parsec in m")
            Issue.record("an unknown unit was converted")
        } catch ToolError.failed(_, let message) {
            #expect(message.hasPrefix("unknown unit 'parsec'; units: cm, day, ft, g, h, in,"))
        }
        await #expect(throws: ToolError.self) { try await UnitsTool().call(arguments: #"{"q":"3 kg in g"}"#) }
        #expect(try await UnitsTool().call(arguments: #"{"query":"3 kg in g"}"#) == "3000")
    }
}
