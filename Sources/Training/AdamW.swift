import Foundation
import Kernels

/// AdamW (Loshchilov & Hutter): Adam's moment estimates with weight decay decoupled from
/// the gradient, as `torch.optim.AdamW` computes it:
///
///     m = β1·m + (1-β1)·g          v = β2·v + (1-β2)·g²
///     θ = θ·(1 - lr·λ) - lr · (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε)
///
/// Parameters, gradients and both moments are flat buffers; `decay` lists the ranges of
/// the parameter buffer that take weight decay (matrices, by convention), the rest
/// (biases, norms) do not. The moments are owned here and allocated once.
public final class AdamW {
    public struct Settings: Codable, Equatable, Sendable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        public var weightDecay: Float = 0.01
        public init() {}

        enum CodingKeys: String, CodingKey {
            case beta1, beta2, epsilon, weightDecay = "weight_decay"
        }
    }

    public let settings: Settings
    public let count: Int
    /// Steps taken so far (the `t` of the bias corrections).
    public private(set) var step = 0
    /// First and second moments, (count) each.
    public let m: UnsafeMutableBufferPointer<Float>
    public let v: UnsafeMutableBufferPointer<Float>
    private let decayMask: [Range<Int>]

    public init(count: Int, settings: Settings = Settings(), decay: [Range<Int>]) {
        self.settings = settings
        self.count = count
        m = ZeroedMemory.allocate(Float.self, count: count)
        v = ZeroedMemory.allocate(Float.self, count: count)
        decayMask = decay.sorted { $0.lowerBound < $1.lowerBound }
    }

    deinit {
        ZeroedMemory.deallocate(m)
        ZeroedMemory.deallocate(v)
    }

    /// One update of `parameters` (count) from `gradients` (count) at learning rate `lr`, split
    /// across the threads of `workspace` if one is given (the model's: the update runs between
    /// its steps). The result is the same for any number of threads.
    public func update(_ parameters: UnsafeMutableBufferPointer<Float>, _ gradients: UnsafeBufferPointer<Float>,
                       lr: Float, workspace: GemmWorkspace? = nil) {
        step += 1
        let s = settings
        let c1 = 1 - Float(pow(Double(s.beta1), Double(step)))
        let c2 = 1 - Float(pow(Double(s.beta2), Double(step)))
        var start = 0
        for range in decayMask {
            apply(parameters, gradients, start..<range.lowerBound, lr: lr, decay: 0, c1: c1, c2: c2,
                  workspace: workspace)
            apply(parameters, gradients, range, lr: lr, decay: s.weightDecay, c1: c1, c2: c2,
                  workspace: workspace)
            start = range.upperBound
        }
        apply(parameters, gradients, start..<count, lr: lr, decay: 0, c1: c1, c2: c2, workspace: workspace)
    }

    /// Restores the optimizer's state (for resuming a run).
    public func restore(step: Int, m: [Float], v: [Float]) throws {
        guard m.count == count, v.count == count, step >= 0 else {
            throw TrainingError.mismatch("optimizer state has \(m.count)/\(v.count) moments, the model \(count)")
        }
        self.step = step
        _ = self.m.update(fromContentsOf: m)
        _ = self.v.update(fromContentsOf: v)
    }

    private func apply(_ p: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>, _ range: Range<Int>,
                       lr: Float, decay: Float, c1: Float, c2: Float, workspace: GemmWorkspace?) {
        guard !range.isEmpty else { return }
        let step = AdamWStep(beta1: settings.beta1, beta2: settings.beta2, epsilon: settings.epsilon,
                             shrink: 1 - lr * decay, stepSize: lr / c1, invCorrection2: 1 / c2)
        let i = range.lowerBound
        adamWUpdate(p.baseAddress! + i, g.baseAddress! + i, m.baseAddress! + i, v.baseAddress! + i,
                    count: range.count, step, workspace: workspace)
    }
}

/// Failures of training that are the input's fault: mismatched checkpoints, bad data,
/// a loss that is not finite.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    case mismatch(String)
    case nonFiniteLoss(step: Int, loss: Float)
    case data(String)

    public var description: String {
        switch self {
        case .mismatch(let what): "checkpoint does not match: \(what)"
        case .nonFiniteLoss(let step, let loss): "the loss became \(loss) at step \(step)"
        case .data(let what): what
        }
    }
}
