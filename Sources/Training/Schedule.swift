import Foundation

/// Learning rate: linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay
/// to `floor` at `totalSteps` (and `floor` after it), as nanoGPT schedules it.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public var peak: Float
    public var floor: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(peak: Float, floor: Float, warmupSteps: Int, totalSteps: Int) {
        self.peak = peak
        self.floor = floor
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The rate for step `step` (0-based).
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        if step >= totalSteps { return floor }
        let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        let cosine = 0.5 * (1 + cos(Double.pi * progress))
        return floor + Float(cosine) * (peak - floor)
    }
}

/// Scales `gradients` so their global L2 norm is at most `maxNorm`; returns the norm before
/// scaling (accumulated in Double: the sum of millions of squares loses digits in Float).
/// A non-finite norm is returned as is and nothing is scaled: the caller must skip the step.
@discardableResult
public func clipGradientNorm(_ gradients: UnsafeMutableBufferPointer<Float>, maxNorm: Float) -> Float {
    clipGradientNorm([gradients], maxNorm: maxNorm)
}

/// `clipGradientNorm` over the union of several buffers (one global norm).
@discardableResult
public func clipGradientNorm(_ buffers: [UnsafeMutableBufferPointer<Float>], maxNorm: Float) -> Float {
    var sum = 0.0
    for gradients in buffers {
        for g in gradients { sum += Double(g) * Double(g) }
    }
    let norm = Float(sum.squareRoot())
    guard norm.isFinite, norm > maxNorm, maxNorm > 0 else { return norm }
    let scale = maxNorm / (norm + 1e-6)
    for gradients in buffers {
        for i in gradients.indices { gradients[i] *= scale }
    }
    return norm
}
