import CDLInferABI
import DLInfer
import Glibc

// The C ABI declared in include/dlinfer.h: translates handles, buffers and errors only.

// size_t parameters import as Int: a value above Int.max (SIZE_MAX, say) arrives negative. Every
// one is converted by one of the helpers below, and messages print it as the unsigned number the
// caller passed.

/// A size_t argument as the unsigned number the caller passed, for messages.
private func unsigned(_ value: Int) -> UInt { UInt(bitPattern: value) }

/// A size_t count or size as an Int, or DL_ERR_INVALID_ARGUMENT naming `name` when it is above
/// `limit` (which values above Int.max always are).
private func sizeArgument(_ value: Int, _ name: String, limit: Int = .max) throws -> Int {
    guard value >= 0, value <= limit else { throw invalid("\(name) is \(unsigned(value)), more than the limit of \(limit)") }
    return value
}

/// A size_t buffer capacity as an Int: one above Int.max is more than any object can need.
private func capacityArgument(_ value: Int) -> Int { value < 0 ? .max : value }

private let versionString: UnsafeMutablePointer<CChar> = strdup(dlinferVersion)!

@_cdecl("dl_version")
public func cVersion() -> UnsafePointer<CChar> { UnsafePointer(versionString) }

@_cdecl("dl_abi_version")
public func cABIVersion() -> Int32 { DL_ABI_VERSION }

@_cdecl("dl_last_error")
public func cLastError() -> UnsafePointer<CChar> { lastErrorPointer() }

private let statusNames: [UnsafeMutablePointer<CChar>] = ([
    "DL_OK", "DL_ERR_INVALID_ARGUMENT", "DL_ERR_IO", "DL_ERR_FORMAT", "DL_ERR_UNSUPPORTED",
    "DL_ERR_WEIGHTS", "DL_ERR_SHAPE", "DL_ERR_DTYPE", "DL_ERR_INTERNAL", "DL_UNKNOWN_STATUS",
] as [String]).map { strdup($0)! }

@_cdecl("dl_status_name")
public func cStatusName(_ s: dl_status) -> UnsafePointer<CChar> {
    UnsafePointer(statusNames[min(Int(s.rawValue), statusNames.count - 1)])
}

@_cdecl("dl_model_load")
public func cModelLoad(_ path: UnsafePointer<CChar>?, _ weightsPath: UnsafePointer<CChar>?,
                       _ options: UnsafePointer<dl_load_options>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> dl_status {
    guarded {
        guard let out else { throw invalid("dl_model_load: out_model is NULL") }
        out.pointee = nil
        guard let path else { throw invalid("dl_model_load: path is NULL") }
        let (version, maxWeightBytes) = try loadOptions(options, "dl_model_load")
        let model = try Model(path: String(cString: path), weightsPath: weightsPath.map { String(cString: $0) }, kerasVersion: version,
                              maxWeightBytes: maxWeightBytes)
        out.pointee = OpaquePointer(Unmanaged.passRetained(ModelHandle(model)).toOpaque())
    }
}

/// The settings of a dl_load_options (NULL: defaults). Fields are only ever appended: this reads
/// those the caller's struct_size covers, from raw memory (a caller built against an older header
/// owns only struct_size bytes).
private func loadOptions(_ options: UnsafePointer<dl_load_options>?, _ function: String) throws -> (version: String?, maxWeightBytes: Int) {
    var version: String?
    var maxWeightBytes = Model.defaultMaxWeightBytes
    if let options {
        let raw = UnsafeRawPointer(options)
        let size = Int(raw.load(as: UInt32.self))
        let versionAt = MemoryLayout<dl_load_options>.offset(of: \dl_load_options.keras_version)!
        let limitAt = MemoryLayout<dl_load_options>.offset(of: \dl_load_options.max_weight_bytes)!
        let withVersion = versionAt + MemoryLayout<UnsafePointer<CChar>?>.size
        guard size >= withVersion else {
            throw invalid("\(function): options.struct_size is \(size), expected at least \(withVersion) (sizeof(dl_load_options) is \(MemoryLayout<dl_load_options>.size))")
        }
        version = raw.load(fromByteOffset: versionAt, as: UnsafePointer<CChar>?.self).map { String(cString: $0) }
        if size >= limitAt + MemoryLayout<UInt64>.size {
            let limit = raw.load(fromByteOffset: limitAt, as: UInt64.self)
            if limit != 0 { maxWeightBytes = Int(clamping: limit) }
        }
    }
    return (version, maxWeightBytes)
}

@_cdecl("dl_model_load_memory")
public func cModelLoadMemory(_ data: UnsafeRawPointer?, _ dataSize: Int, _ weightsData: UnsafeRawPointer?, _ weightsSize: Int,
                             _ options: UnsafePointer<dl_load_options>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> dl_status {
    guarded {
        guard let out else { throw invalid("dl_model_load_memory: out_model is NULL") }
        out.pointee = nil
        guard let data else { throw invalid("dl_model_load_memory: data is NULL") }
        // Same bound as a file read whole (4 GiB): the bytes are copied once, for HDF5 and the parsers.
        let size = try sizeArgument(dataSize, "dl_model_load_memory: size", limit: 4 << 30)
        let wsize = try sizeArgument(weightsSize, "dl_model_load_memory: weights_size", limit: 4 << 30)
        if weightsData == nil && wsize != 0 { throw invalid("dl_model_load_memory: weights_data is NULL but weights_size is \(wsize)") }
        let (version, maxWeightBytes) = try loadOptions(options, "dl_model_load_memory")
        let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: size))
        let weights = weightsData.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: wsize)) }
        let model = try Model(data: bytes, weights: weights, kerasVersion: version, maxWeightBytes: maxWeightBytes)
        out.pointee = OpaquePointer(Unmanaged.passRetained(ModelHandle(model)).toOpaque())
    }
}

@_cdecl("dl_model_release")
public func cModelRelease(_ model: OpaquePointer?) {
    guard let model else { return }
    Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(model)).release()
}

@_cdecl("dl_model_input_count")
public func cModelInputCount(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> dl_status {
    guarded {
        guard let m = ModelHandle.from(model), let out else { throw invalid("dl_model_input_count: NULL argument") }
        out.pointee = m.model.inputs.count
    }
}

@_cdecl("dl_model_output_count")
public func cModelOutputCount(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> dl_status {
    guarded {
        guard let m = ModelHandle.from(model), let out else { throw invalid("dl_model_output_count: NULL argument") }
        out.pointee = m.model.outputs.count
    }
}

private func fill(_ info: UnsafeMutablePointer<dl_tensor_info>, _ t: TensorInfo, _ name: UnsafeMutablePointer<CChar>) throws {
    guard t.shape.count <= Int(DL_MAX_RANK) else { throw DLError(.unsupported, "tensor '\(t.name)' has rank \(t.shape.count) > DL_MAX_RANK") }
    var v = dl_tensor_info()
    v.name = UnsafePointer(name)
    v.dtype = t.dtype == .int32 ? DL_INT32 : DL_FLOAT32
    v.rank = Int32(t.shape.count)
    withUnsafeMutableBytes(of: &v.shape) { raw in
        let p = raw.bindMemory(to: Int64.self)
        for (i, d) in t.shape.enumerated() { p[i] = Int64(d) }
    }
    info.pointee = v
}

@_cdecl("dl_model_input_info")
public func cModelInputInfo(_ model: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<dl_tensor_info>?) -> dl_status {
    guarded {
        guard let m = ModelHandle.from(model), let out else { throw invalid("dl_model_input_info: NULL argument") }
        guard index >= 0 && index < m.model.inputs.count else { throw invalid("input index \(unsigned(index)) out of range (model has \(m.model.inputs.count))") }
        try fill(out, m.model.inputs[index], m.inputNames[index])
    }
}

@_cdecl("dl_model_output_info")
public func cModelOutputInfo(_ model: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<dl_tensor_info>?) -> dl_status {
    guarded {
        guard let m = ModelHandle.from(model), let out else { throw invalid("dl_model_output_info: NULL argument") }
        guard index >= 0 && index < m.model.outputs.count else { throw invalid("output index \(unsigned(index)) out of range (model has \(m.model.outputs.count))") }
        try fill(out, m.model.outputs[index], m.outputNames[index])
    }
}

@_cdecl("dl_session_create")
public func cSessionCreate(_ model: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> dl_status {
    cSessionCreateWithOptions(model, nil, out)
}

@_cdecl("dl_session_create_with_options")
public func cSessionCreateWithOptions(_ model: OpaquePointer?, _ options: UnsafePointer<dl_session_options>?,
                                      _ out: UnsafeMutablePointer<OpaquePointer?>?) -> dl_status {
    guarded {
        guard let m = ModelHandle.from(model), let out else { throw invalid("dl_session_create: NULL argument") }
        var settings = SessionOptions()
        if let options {
            // Fields are only ever appended: read those the caller's struct_size covers.
            let size = Int(options.pointee.struct_size)
            let withProfile = MemoryLayout<dl_session_options>.offset(of: \dl_session_options.profile)! + 4
            guard size >= withProfile else {
                throw invalid("dl_session_create_with_options: options.struct_size is \(size), expected at least \(withProfile)")
            }
            settings.profile = options.pointee.profile != 0
            if size >= MemoryLayout<dl_session_options>.offset(of: \dl_session_options.num_threads)! + 4 {
                settings.threads = options.pointee.num_threads == 0 ? 1 : Int(options.pointee.num_threads)
            }
        }
        out.pointee = OpaquePointer(Unmanaged.passRetained(try SessionHandle(m, options: settings)).toOpaque())
    }
}

@_cdecl("dl_session_release")
public func cSessionRelease(_ session: OpaquePointer?) {
    guard let session else { return }
    Unmanaged<SessionHandle>.fromOpaque(UnsafeRawPointer(session)).release()
}

@_cdecl("dl_session_run")
public func cSessionRun(_ session: OpaquePointer?, _ inputCount: Int, _ inputs: UnsafePointer<dl_input>?) -> dl_status {
    guarded {
        guard let s = SessionHandle.from(session) else { throw invalid("dl_session_run: session is NULL") }
        let count = try sizeArgument(inputCount, "dl_session_run: input_count", limit: 1 << 16)
        guard count == 0 || inputs != nil else { throw invalid("dl_session_run: inputs is NULL") }
        try withUnsafeTemporaryAllocation(of: RunInput.self, capacity: count) { buf in
            for i in 0..<count {
                let c = inputs![i]
                buf.initializeElement(at: i, to: RunInput(data: c.data, dtype: Int32(bitPattern: c.dtype.rawValue), rank: Int(c.rank), shape: c.shape))
            }
            try s.session.run(UnsafeBufferPointer(buf))
        }
    }
}

private func output(_ session: OpaquePointer?, _ index: Int, _ fn: String) throws -> (SessionHandle, OutputView) {
    guard let s = SessionHandle.from(session) else { throw invalid("\(fn): session is NULL") }
    guard let o = s.session.output(index) else {
        if s.session.output(0) == nil { throw invalid("\(fn): no successful run yet") }
        throw invalid("\(fn): output index \(unsigned(index)) out of range (model has \(s.session.outputCount))")
    }
    return (s, o)
}

@_cdecl("dl_session_output")
public func cSessionOutput(_ session: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<dl_output_view>?) -> dl_status {
    guarded {
        guard let out else { throw invalid("dl_session_output: out_view is NULL") }
        let (s, o) = try output(session, index, "dl_session_output")
        guard o.shape.count <= Int(DL_MAX_RANK) else { throw DLError(.unsupported, "output rank \(o.shape.count) > DL_MAX_RANK") }
        var v = dl_output_view()
        v.name = UnsafePointer(s.model.outputNames[index])
        v.dtype = DL_FLOAT32
        v.rank = Int32(o.shape.count)
        withUnsafeMutableBytes(of: &v.shape) { raw in
            let p = raw.bindMemory(to: Int64.self)
            for (i, d) in o.shape.enumerated() { p[i] = Int64(d) }
        }
        v.data = o.data
        v.count = o.count
        out.pointee = v
    }
}

@_cdecl("dl_session_output_copy")
public func cSessionOutputCopy(_ session: OpaquePointer?, _ index: Int, _ buffer: UnsafeMutableRawPointer?, _ bufferBytes: Int) -> dl_status {
    guarded {
        let (_, o) = try output(session, index, "dl_session_output_copy")
        guard let buffer else { throw invalid("dl_session_output_copy: buffer is NULL") }
        let bytes = capacityArgument(bufferBytes)
        guard bytes >= o.count * 4 else { throw invalid("dl_session_output_copy: output \(index) needs \(o.count * 4) bytes, buffer has \(bytes)") }
        buffer.copyMemory(from: o.data, byteCount: o.count * 4)
    }
}

@_cdecl("dl_session_profile_count")
public func cSessionProfileCount(_ session: OpaquePointer?, _ out: UnsafeMutablePointer<Int>?) -> dl_status {
    guarded {
        guard let s = SessionHandle.from(session), let out else { throw invalid("dl_session_profile_count: NULL argument") }
        guard s.session.options.profile else { throw invalid("dl_session_profile_count: the session was created without profiling") }
        s.snapshotProfile()
        out.pointee = s.profile.count
    }
}

@_cdecl("dl_session_profile_entry")
public func cSessionProfileEntry(_ session: OpaquePointer?, _ index: Int, _ out: UnsafeMutablePointer<dl_profile_entry>?) -> dl_status {
    guarded {
        guard let s = SessionHandle.from(session), let out else { throw invalid("dl_session_profile_entry: NULL argument") }
        guard index >= 0 && index < s.profile.count else {
            throw invalid("dl_session_profile_entry: index \(unsigned(index)) out of range (snapshot has \(s.profile.count))")
        }
        let e = s.profile[index]
        out.pointee = dl_profile_entry(op: UnsafePointer(e.op), layers: UnsafePointer(e.layers), total_ms: e.entry.seconds * 1000,
                                       runs: Int64(e.entry.runs), flops: e.entry.flopsPerRun)
    }
}

@_cdecl("dl_session_profile_reset")
public func cSessionProfileReset(_ session: OpaquePointer?) -> dl_status {
    guarded {
        guard let s = SessionHandle.from(session) else { throw invalid("dl_session_profile_reset: session is NULL") }
        s.session.resetProfile()
    }
}

private func imageArgs(_ height: Int32, _ width: Int32, _ channels: Int32, _ mode: dl_preprocess,
                       _ out: UnsafeMutablePointer<Float>?, _ outCount: Int) throws -> ImagePreprocess {
    // A C enum holds any int: the raw value is its bit pattern (-1 arrives as 0xFFFFFFFF).
    let rawMode = Int32(bitPattern: mode.rawValue)
    guard let m = ImagePreprocess(rawValue: rawMode) else { throw invalid("unknown preprocessing mode \(rawMode)") }
    guard out != nil else { throw invalid("output buffer is NULL") }
    guard height > 0, width > 0, channels == 1 || channels == 3 else {
        throw invalid("bad target size \(height)x\(width)x\(channels)")
    }
    // height * width < 2^62; times 3 channels it can overflow (ImageLoader refuses such sizes).
    let (needed, overflow) = (Int(height) * Int(width)).multipliedReportingOverflow(by: Int(channels))
    guard !overflow else { throw invalid("target size \(height)x\(width)x\(channels) is out of range") }
    let count = capacityArgument(outCount)
    guard count >= needed else { throw invalid("output buffer holds \(count) floats, \(needed) needed") }
    return m
}

@_cdecl("dl_image_load")
public func cImageLoad(_ path: UnsafePointer<CChar>?, _ height: Int32, _ width: Int32, _ channels: Int32,
                       _ mode: dl_preprocess, _ out: UnsafeMutablePointer<Float>?, _ count: Int) -> dl_status {
    guarded {
        guard let path else { throw invalid("dl_image_load: path is NULL") }
        let m = try imageArgs(height, width, channels, mode, out, count)
        let pixels = try ImageLoader.load(path: String(cString: path), height: Int(height), width: Int(width), channels: Int(channels), mode: m)
        out!.update(from: pixels, count: pixels.count)
    }
}

@_cdecl("dl_image_decode")
public func cImageDecode(_ data: UnsafePointer<UInt8>?, _ dataSize: Int, _ height: Int32, _ width: Int32, _ channels: Int32,
                         _ mode: dl_preprocess, _ out: UnsafeMutablePointer<Float>?, _ count: Int) -> dl_status {
    guarded {
        guard let data else { throw invalid("dl_image_decode: data is NULL") }
        let size = try sizeArgument(dataSize, "dl_image_decode: size")
        let m = try imageArgs(height, width, channels, mode, out, count)
        // Decoded in place: the caller's bytes are not copied.
        let pixels = try ImageLoader.decode(UnsafeBufferPointer(start: data, count: size), height: Int(height), width: Int(width),
                                            channels: Int(channels), mode: m)
        out!.update(from: pixels, count: pixels.count)
    }
}
