// libFuzzer entry point for the parsers; built by scripts/fuzz.sh together with the library
// sources. The target is chosen with SAE_FUZZ_TARGET (idx, safetensors or config).
import Foundation

private let fuzzTarget: String = {
    let target = ProcessInfo.processInfo.environment["SAE_FUZZ_TARGET"] ?? ""
    guard ParserFuzzing.targets.contains(target) else {
        fatalError("set SAE_FUZZ_TARGET to one of \(ParserFuzzing.targets)")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    ParserFuzzing.run(fuzzTarget, bytes)
    return 0
}
