#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One LSTM cell step for a batch, after the gate matmuls: with the gate pre-activations
/// gates = x W_ih^T + h_prev W_hh^T + b split per row into (i, f, g, o) blocks of H (PyTorch's
/// order),
///   i, f, o = sigmoid(.),  g = tanh(.),  c = f * c_prev + i * g,  h = o * tanh(c).
///
/// - `h`, `c`: (B, H), written.
/// - `acts`: (B, 4H), written with the activated gates (i, f, g, o) that `lstmCellBackward`
///   reads; may be the same buffer as `gates`.
/// - `gates`: (B, 4H) pre-activations.  `cPrev`: (B, H); may be the same buffer as `c`.
/// One pass over each row; allocates nothing.
public func lstmCellForward(
    _ h: UnsafeMutablePointer<Float>,
    _ c: UnsafeMutablePointer<Float>,
    _ acts: UnsafeMutablePointer<Float>,
    _ gates: UnsafePointer<Float>,
    _ cPrev: UnsafePointer<Float>,
    batch: Int, hidden: Int
) {
    lstmCellForward(h, c, acts, gates, cPrev, batch: batch, hidden: hidden, units: 0..<hidden)
}

/// `lstmCellForward` for the hidden units `units` only (a thread's share): every element is
/// computed lane by lane, so its value does not depend on the range it was computed in.
func lstmCellForward(
    _ h: UnsafeMutablePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    _ acts: UnsafeMutablePointer<Float>, _ gates: UnsafePointer<Float>,
    _ cPrev: UnsafePointer<Float>, batch: Int, hidden: Int, units: Range<Int>
) {
    let hh = hidden
    for b in 0..<batch {
        let gRow = gates + b * 4 * hh, aRow = acts + b * 4 * hh
        let cpRow = cPrev + b * hh, cRow = c + b * hh, hRow = h + b * hh
        var j = units.lowerBound
        while j < units.upperBound {
            let lanes = min(Lanes.scalarCount, units.upperBound - j)
            let i: Lanes = sigmoidLanes(loadPartial(gRow + j, lanes))
            let f: Lanes = sigmoidLanes(loadPartial(gRow + hh + j, lanes))
            let g: Lanes = tanhLanes(loadPartial(gRow + 2 * hh + j, lanes))
            let o: Lanes = sigmoidLanes(loadPartial(gRow + 3 * hh + j, lanes))
            let cNew = (i * g).addingProduct(f, loadPartial(cpRow + j, lanes))
            let hNew = o * tanhLanes(cNew)
            storePartial(i, aRow + j, lanes)
            storePartial(f, aRow + hh + j, lanes)
            storePartial(g, aRow + 2 * hh + j, lanes)
            storePartial(o, aRow + 3 * hh + j, lanes)
            storePartial(cNew, cRow + j, lanes)
            storePartial(hNew, hRow + j, lanes)
            j += Lanes.scalarCount
        }
    }
}

/// Backward of `lstmCellForward`. With tc = tanh(c) (recomputed) and
/// dcTotal = dc + dh * o * (1 - tc^2):
///   d(pre i) = dcTotal * g * i (1 - i),    d(pre f) = dcTotal * c_prev * f (1 - f),
///   d(pre g) = dcTotal * i * (1 - g^2),    d(pre o) = dh * tc * o (1 - o),
///   dcPrev = dcTotal * f.
///
/// - `dgates`: (B, 4H), written (gradient of the pre-activations, ready for the gate matmuls).
/// - `dcPrev`: (B, H), written; may be the same buffer as `dc`.
/// - `dh`, `dc`: (B, H) gradients arriving at this step's h and c (dc = 0 at the last step).
/// - `acts`: (B, 4H), `cPrev`, `c`: (B, H), as the forward left them.
public func lstmCellBackward(
    _ dgates: UnsafeMutablePointer<Float>,
    _ dcPrev: UnsafeMutablePointer<Float>,
    _ dh: UnsafePointer<Float>,
    _ dc: UnsafePointer<Float>,
    _ acts: UnsafePointer<Float>,
    _ cPrev: UnsafePointer<Float>,
    _ c: UnsafePointer<Float>,
    batch: Int, hidden: Int
) {
    lstmCellBackward(dgates, dcPrev, dh, dc, acts, cPrev, c, batch: batch, hidden: hidden,
                     units: 0..<hidden)
}

/// `lstmCellBackward` for the hidden units `units` only (elementwise, like the forward).
func lstmCellBackward(
    _ dgates: UnsafeMutablePointer<Float>, _ dcPrev: UnsafeMutablePointer<Float>,
    _ dh: UnsafePointer<Float>, _ dc: UnsafePointer<Float>, _ acts: UnsafePointer<Float>,
    _ cPrev: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
    batch: Int, hidden: Int, units: Range<Int>
) {
    let hh = hidden
    let one = Lanes(repeating: 1)
    for b in 0..<batch {
        let aRow = acts + b * 4 * hh, dgRow = dgates + b * 4 * hh
        let row = b * hh
        var j = units.lowerBound
        while j < units.upperBound {
            let lanes = min(Lanes.scalarCount, units.upperBound - j)
            let i: Lanes = loadPartial(aRow + j, lanes), f: Lanes = loadPartial(aRow + hh + j, lanes)
            let g: Lanes = loadPartial(aRow + 2 * hh + j, lanes)
            let o: Lanes = loadPartial(aRow + 3 * hh + j, lanes)
            let tc: Lanes = tanhLanes(loadPartial(c + row + j, lanes))
            let dhv: Lanes = loadPartial(dh + row + j, lanes)
            let dcIn: Lanes = loadPartial(dc + row + j, lanes)
            let dcTotal = dcIn.addingProduct(dhv * o, one - tc * tc)
            storePartial(dcTotal * g * i * (one - i), dgRow + j, lanes)
            let cp: Lanes = loadPartial(cPrev + row + j, lanes)
            storePartial(dcTotal * cp * f * (one - f), dgRow + hh + j, lanes)
            storePartial(dcTotal * i * (one - g * g), dgRow + 2 * hh + j, lanes)
            storePartial(dhv * tc * o * (one - o), dgRow + 3 * hh + j, lanes)
            storePartial(dcTotal * f, dcPrev + row + j, lanes)
            j += Lanes.scalarCount
        }
    }
}

/// The first `lanes` floats at `p` in a vector, zeros after them.
@inline(__always)
private func loadPartial(_ p: UnsafePointer<Float>, _ lanes: Int) -> Lanes {
    if lanes == Lanes.scalarCount { return loadVector(p) }
    var v = Lanes()
    for q in 0..<lanes { v[q] = p[q] }
    return v
}

@inline(__always)
private func storePartial(_ v: Lanes, _ p: UnsafeMutablePointer<Float>, _ lanes: Int) {
    if lanes == Lanes.scalarCount { storeVector(v, p); return }
    for q in 0..<lanes { p[q] = v[q] }
}

/// Reference for `lstmCellForward`, in Double with libm; same arguments (no aliasing).
public func lstmCellForwardReference(
    _ h: UnsafeMutablePointer<Float>,     // (B, H)
    _ c: UnsafeMutablePointer<Float>,     // (B, H)
    _ acts: UnsafeMutablePointer<Float>,  // (B, 4H)
    _ gates: UnsafePointer<Float>,        // (B, 4H)
    _ cPrev: UnsafePointer<Float>,        // (B, H)
    batch: Int, hidden: Int
) {
    func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
    for b in 0..<batch {
        for j in 0..<hidden {
            let base = b * 4 * hidden + j
            let i = sigmoid(Double(gates[base])), f = sigmoid(Double(gates[base + hidden]))
            let g = tanh(Double(gates[base + 2 * hidden])), o = sigmoid(Double(gates[base + 3 * hidden]))
            let cNew = f * Double(cPrev[b * hidden + j]) + i * g
            c[b * hidden + j] = Float(cNew)
            h[b * hidden + j] = Float(o * tanh(cNew))
            acts[base] = Float(i)
            acts[base + hidden] = Float(f)
            acts[base + 2 * hidden] = Float(g)
            acts[base + 3 * hidden] = Float(o)
        }
    }
}

/// Reference for `lstmCellBackward`, in Double with libm; same arguments (no aliasing).
public func lstmCellBackwardReference(
    _ dgates: UnsafeMutablePointer<Float>,  // (B, 4H)
    _ dcPrev: UnsafeMutablePointer<Float>,  // (B, H)
    _ dh: UnsafePointer<Float>,             // (B, H)
    _ dc: UnsafePointer<Float>,             // (B, H)
    _ acts: UnsafePointer<Float>,           // (B, 4H)
    _ cPrev: UnsafePointer<Float>,          // (B, H)
    _ c: UnsafePointer<Float>,              // (B, H)
    batch: Int, hidden: Int
) {
    for b in 0..<batch {
        for j in 0..<hidden {
            let base = b * 4 * hidden + j, at = b * hidden + j
            let i = Double(acts[base]), f = Double(acts[base + hidden])
            let g = Double(acts[base + 2 * hidden]), o = Double(acts[base + 3 * hidden])
            let tc = tanh(Double(c[at]))
            let dhv = Double(dh[at])
            let dcTotal = Double(dc[at]) + dhv * o * (1 - tc * tc)
            dgates[base] = Float(dcTotal * g * i * (1 - i))
            dgates[base + hidden] = Float(dcTotal * Double(cPrev[at]) * f * (1 - f))
            dgates[base + 2 * hidden] = Float(dcTotal * i * (1 - g * g))
            dgates[base + 3 * hidden] = Float(dhv * tc * o * (1 - o))
            dcPrev[at] = Float(dcTotal * f)
        }
    }
}
