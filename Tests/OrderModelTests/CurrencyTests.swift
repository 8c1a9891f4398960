import Foundation
import OrderModel
import Testing

@Suite("Currencies: ISO 4217 exponents shown right in every currency")
struct CurrencyTests {
    /// Where CLDR (ICU's data) displays fewer digits than ISO 4217's minor unit: high-inflation
    /// currencies it rounds to whole units for display. Amounts are stored in ISO minor units,
    /// so ISO decides; any other difference fails the test below.
    static let cldrDisplaysWholeUnits: Set<String> = [
        "AFN", "ALL", "COP", "IDR", "IQD", "IRR", "KPW", "LAK", "LBP", "MGA", "MMK", "PKR", "RSD", "SLL", "SOS", "SYP", "YER",
    ]

    @Test("every ISO 4217 code's exponent agrees with ICU's currency data, but for CLDR's whole-unit display list")
    func everyCodeAgreesWithICU() {
        let known = Set(Locale.Currency.isoCurrencies.map(\.identifier))
        for (code, exponent) in Currency.exponents {
            #expect(known.contains(code), "\(code) is not a currency ICU knows")
            let text = (1.0).formatted(.currency(code: code).locale(Locale(identifier: "en_US")))
            let parts = text.split(separator: ".")
            let digits = parts.count > 1 ? parts.last!.filter(\.isNumber).count : 0
            if Self.cldrDisplaysWholeUnits.contains(code) {
                #expect(digits == 0, "\(code): ICU now shows \(digits) digits")
            } else {
                #expect(digits == exponent, "\(code): ISO \(exponent), ICU \(digits) (\(text))")
            }
        }
        #expect(Currency.exponents.count == 169)  // ISO 4217 List One, less the N.A. codes
        #expect(Currency.exponents.values.allSatisfy { (0...4).contains($0) })
    }

    @Test("amounts print with their currency's decimals", arguments: [
        (Int64(2_499), "JPY", "2,499 JPY"), (12_345, "BHD", "12.345 BHD"), (123_456, "OMR", "123.456 OMR"), (1_000, "JOD", "1.000 JOD"),
        (1_001, "TND", "1.001 TND"), (150_000, "CLP", "150,000 CLP"), (25_000, "VND", "25,000 VND"), (990, "ISK", "990 ISK"),
        (5_000, "UGX", "5,000 UGX"), (123_456_789, "USD", "1,234,567.89 USD"), (-5, "EUR", "-0.05 EUR"), (12_345, "CLF", "1.2345 CLF"),
        (7, "XAU", "7 XAU"), (1_999, "ABC", "1999 minor units of ABC"), (Int64.min, "EUR", "-92,233,720,368,547,758.08 EUR"),
    ])
    func formatting(minor: Int64, currency: String, text: String) {
        #expect(Currency.format(minor, currency) == text)
    }
}
