/// Keras class name -> factory building the layer from its config and stored weights.
/// A class missing here is refused at load time with its name.
enum LayerRegistry {
    typealias Factory = (LayerConfig, StoredWeights) throws -> Layer

    static let factories: [String: Factory] = {
        var f: [String: Factory] = [
            "Dense": Dense.make,
            "Conv1D": Convolution.make(rank: 1),
            "Conv2D": Convolution.make(rank: 2),
            "DepthwiseConv1D": DepthwiseConvolution.make(rank: 1, separable: false),
            "DepthwiseConv2D": DepthwiseConvolution.make(rank: 2, separable: false),
            "SeparableConv1D": DepthwiseConvolution.make(rank: 1, separable: true),
            "SeparableConv2D": DepthwiseConvolution.make(rank: 2, separable: true),
            "Conv1DTranspose": TransposedConvolution.make(rank: 1),
            "Conv2DTranspose": TransposedConvolution.make(rank: 2),
            "MaxPooling1D": Pooling.make(.max, rank: 1),
            "MaxPooling2D": Pooling.make(.max, rank: 2),
            "AveragePooling1D": Pooling.make(.average, rank: 1),
            "AveragePooling2D": Pooling.make(.average, rank: 2),
            "GlobalMaxPooling1D": GlobalPooling.make(.max, rank: 1),
            "GlobalMaxPooling2D": GlobalPooling.make(.max, rank: 2),
            "GlobalAveragePooling1D": GlobalPooling.make(.average, rank: 1),
            "GlobalAveragePooling2D": GlobalPooling.make(.average, rank: 2),
            "BatchNormalization": AxisAffineLayer.makeBatchNorm,
            "Rescaling": AxisAffineLayer.makeRescaling,
            "Normalization": AxisAffineLayer.makeNormalization,
            "Flatten": ReshapeLayer.makeFlatten,
            "Reshape": ReshapeLayer.makeReshape,
            "Permute": PermuteLayer.make,
            "ZeroPadding1D": SpatialResize.make("pad", rank: 1),
            "ZeroPadding2D": SpatialResize.make("pad", rank: 2),
            "Cropping1D": SpatialResize.make("crop", rank: 1),
            "Cropping2D": SpatialResize.make("crop", rank: 2),
            "UpSampling1D": SpatialResize.make("upsample", rank: 1),
            "UpSampling2D": SpatialResize.make("upsample", rank: 2),
            "Add": ElementwiseMerge.make(.add),
            "Subtract": ElementwiseMerge.make(.subtract),
            "Multiply": ElementwiseMerge.make(.multiply),
            "Average": ElementwiseMerge.make(.average),
            "Maximum": ElementwiseMerge.make(.maximum),
            "Minimum": ElementwiseMerge.make(.minimum),
            "Concatenate": Concatenate.make,
            "Activation": ActivationLayer.makeActivation,
            "ReLU": ActivationLayer.makeReLU,
            "LeakyReLU": ActivationLayer.makeLeakyReLU,
            "ELU": ActivationLayer.makeELU,
            "Softmax": ActivationLayer.makeSoftmax,
            "PReLU": PReLU.make,
            "LayerNormalization": LayerNormalization.make,
            "CustomScaleLayer": CustomScaleLayer.make,
            "Custom>CustomScaleLayer": CustomScaleLayer.make,  // tf_keras registers it in package "Custom"
            "LayerScale": LayerScale.make,
        ]
        for identity in ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                         "GaussianDropout", "AlphaDropout", "ActivityRegularization", "StochasticDepth"] {
            f[identity] = InferenceIdentity.make
        }
        return f
    }()
}
