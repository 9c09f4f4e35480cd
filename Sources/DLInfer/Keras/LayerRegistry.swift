/// Keras class name -> parser emitting the layer's IR. A class missing here is refused at load
/// time with its name.
enum LayerRegistry {
    static let factories: [String: LayerFactory] = {
        var f: [String: LayerFactory] = [
            "Dense": DenseLayer.make,
            "Conv1D": ConvolutionLayers.conv(rank: 1),
            "Conv2D": ConvolutionLayers.conv(rank: 2),
            "DepthwiseConv1D": ConvolutionLayers.depthwise(rank: 1, separable: false),
            "DepthwiseConv2D": ConvolutionLayers.depthwise(rank: 2, separable: false),
            "SeparableConv1D": ConvolutionLayers.depthwise(rank: 1, separable: true),
            "SeparableConv2D": ConvolutionLayers.depthwise(rank: 2, separable: true),
            "Conv1DTranspose": ConvolutionLayers.transposed(rank: 1),
            "Conv2DTranspose": ConvolutionLayers.transposed(rank: 2),
            "MaxPooling1D": PoolingLayers.pool(.max, rank: 1),
            "MaxPooling2D": PoolingLayers.pool(.max, rank: 2),
            "AveragePooling1D": PoolingLayers.pool(.average, rank: 1),
            "AveragePooling2D": PoolingLayers.pool(.average, rank: 2),
            "GlobalMaxPooling1D": PoolingLayers.global(.max, rank: 1),
            "GlobalMaxPooling2D": PoolingLayers.global(.max, rank: 2),
            "GlobalAveragePooling1D": PoolingLayers.global(.average, rank: 1),
            "GlobalAveragePooling2D": PoolingLayers.global(.average, rank: 2),
            "BatchNormalization": NormalizationLayers.batchNorm,
            "LayerNormalization": NormalizationLayers.layerNorm,
            "Rescaling": PreprocessingLayers.rescaling,
            "Normalization": PreprocessingLayers.normalization,
            "Flatten": ReshapingLayers.flatten,
            "Reshape": ReshapingLayers.reshape,
            "Permute": ReshapingLayers.permute,
            "ZeroPadding1D": SpatialLayers.make("pad", rank: 1),
            "ZeroPadding2D": SpatialLayers.make("pad", rank: 2),
            "Cropping1D": SpatialLayers.make("crop", rank: 1),
            "Cropping2D": SpatialLayers.make("crop", rank: 2),
            "UpSampling1D": SpatialLayers.make("upsample", rank: 1),
            "UpSampling2D": SpatialLayers.make("upsample", rank: 2),
            "Add": MergeLayers.elementwise(.add),
            "Subtract": MergeLayers.elementwise(.subtract),
            "Multiply": MergeLayers.elementwise(.multiply),
            "Average": MergeLayers.elementwise(.average),
            "Maximum": MergeLayers.elementwise(.maximum),
            "Minimum": MergeLayers.elementwise(.minimum),
            "Concatenate": MergeLayers.concatenate,
            "Activation": ActivationLayers.activationLayer,
            "ReLU": ActivationLayers.relu,
            "LeakyReLU": ActivationLayers.leakyReLU,
            "ELU": ActivationLayers.elu,
            "Softmax": ActivationLayers.softmax,
            "PReLU": ActivationLayers.prelu,
            "CustomScaleLayer": ApplicationHelperLayers.customScale,
            "Custom>CustomScaleLayer": ApplicationHelperLayers.customScale,  // tf_keras registers it in package "Custom"
            "LayerScale": ApplicationHelperLayers.layerScale,
        ]
        for identity in ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                         "GaussianDropout", "AlphaDropout", "ActivityRegularization", "StochasticDepth"] {
            f[identity] = InferenceIdentityLayer.make
        }
        return f
    }()
}
