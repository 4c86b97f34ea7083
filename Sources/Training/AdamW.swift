// SPDX-License-Identifier: Apache-2.0
import Foundation

/// AdamW (Loshchilov & Hutter 2019) over one flat parameter slab.
///
/// Under DP-SGD it consumes the *privatized* gradient (clipped sum + noise, divided by
/// the expected batch size), so its moments are post-processing and cost no privacy.
public struct AdamW: Sendable {
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public private(set) var step: Int = 0
    /// First and second moments, one per parameter.
    public private(set) var firstMoment: [Float]
    public private(set) var secondMoment: [Float]

    public init(parameterCount: Int, learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    /// Restores a checkpointed state.
    public init(restoring state: AdamW.State, learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.init(parameterCount: state.firstMoment.count, learningRate: learningRate, beta1: beta1,
                  beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        precondition(state.secondMoment.count == state.firstMoment.count, "moment sizes differ")
        step = state.step
        firstMoment = state.firstMoment
        secondMoment = state.secondMoment
    }

    /// What a checkpoint must keep to resume exactly.
    public struct State: Codable, Sendable, Equatable {
        public var step: Int
        public var firstMoment: [Float]
        public var secondMoment: [Float]
    }

    public var state: State { State(step: step, firstMoment: firstMoment, secondMoment: secondMoment) }

    /// One update: p ← p − lr·(m̂ / (√v̂ + ε) + λ·p), with bias-corrected moments m̂, v̂.
    public mutating func update(parameters: UnsafeMutableBufferPointer<Float>, gradients: UnsafeBufferPointer<Float>) {
        precondition(parameters.count == firstMoment.count && gradients.count == firstMoment.count,
                     "optimizer holds \(firstMoment.count) parameters; found \(parameters.count) and \(gradients.count) gradients")
        step += 1
        let correction1 = 1 - Float(pow(Double(beta1), Double(step)))
        let correction2 = 1 - Float(pow(Double(beta2), Double(step)))
        let (b1, b2, lr, eps, decay) = (beta1, beta2, learningRate, epsilon, weightDecay)
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in
                for i in 0..<parameters.count {
                    let g = gradients[i]
                    m[i] = b1 * m[i] + (1 - b1) * g
                    v[i] = b2 * v[i] + (1 - b2) * g * g
                    let mHat = m[i] / correction1
                    let vHat = v[i] / correction2
                    parameters[i] -= lr * (mHat / (vHat.squareRoot() + eps) + decay * parameters[i])
                }
            }
        }
    }
}
