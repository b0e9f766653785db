import Testing
@testable import Classification

@Test func clausesEndAtCommasStopsAndMarksInEveryWidth() {
    #expect(Clauses.split("这本书写得太好了，强烈推荐！物流也快。") == ["这本书写得太好了，", "强烈推荐！", "物流也快。"])
    #expect(Clauses.split("Terrible service, I want my money back.") == ["Terrible service,", "I want my money back."])
    #expect(Clauses.split("太差了！！！再也不买了～～") == ["太差了！！！", "再也不买了～～"])
    #expect(Clauses.split("first line\nsecond line") == ["first line", "second line"])
}

@Test func theEnumerationCommaAndTheColonDoNotEndAClause() {
    #expect(Clauses.split("价格、质量都好：满意") == ["价格、质量都好：满意"])
}

@Test func piecesWithoutTwoLettersJoinTheirNeighbour() {
    // "3." holds one digit: the decimal point does not cut the number.
    #expect(Clauses.split("3.5 stars, great") == ["3.5 stars,", "great"])
    // A trailing emoticon joins the clause before it.
    #expect(Clauses.split("Great book!!! :)") == ["Great book!!! :)"])
    #expect(Clauses.split("好！") == ["好！"])
}

@Test func emptyAndBlankTextsHaveNoClauses() {
    #expect(Clauses.split("").isEmpty)
    #expect(Clauses.split("  \n ").isEmpty)
    #expect(Clauses.split("  ，。 ") == ["，。"])
}

@Test func clausesCoverTheTextInOrderLosingOnlyWhiteSpace() {
    var rng = SystemRandomNumberGenerator()
    let alphabet = Array("好差书ab1 ,.!?，。！？；~…、\n")
    for _ in 0..<2_000 {
        let text = String((0..<Int.random(in: 0...30, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
        let clauses = Clauses.split(text)
        #expect(clauses.joined().filter { !$0.isWhitespace } == text.filter { !$0.isWhitespace }, "\(text.debugDescription)")
        for (a, b) in zip(clauses, clauses.dropFirst()) { #expect(a.endIndex <= b.startIndex) }
        #expect(clauses.allSatisfy { !$0.isEmpty })
    }
}
