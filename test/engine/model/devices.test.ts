/**
 * What `device: auto` picks from what the machine offers (devices.ts), with the probes' answers given: never a
 * software adapter, CUDA first where its libraries are present, WebGPU only on a hardware adapter, else the CPU with
 * the reasons. The live probes run in test/cli/webgpu.test.ts (SwiftShader, no driver, no CUDA).
 */
import { describe, expect, it } from 'vitest';
import { chooseAuto, isSoftwareAdapter, type AdapterProbe, type CudaStatus } from '../../../src/engine/model/devices';

const noCuda: () => CudaStatus = () => ({ available: false, missing: ['/x/libonnxruntime_providers_cuda.so', 'libcudnn.so.9'], install: 'steps' });
const cuda: () => CudaStatus = () => ({ available: true, missing: [] });
const adapter = (name: string, vendor: string, architecture: string, fallback = false): (() => AdapterProbe) => () => ({
  adapter: { name, vendor, architecture, software: isSoftwareAdapter({ name, vendor, architecture, fallback }) },
});

describe('software adapters', () => {
  it('are recognised by name, vendor, architecture or the fallback flag', () => {
    expect(isSoftwareAdapter({ name: 'SwiftShader driver 5.0.0', vendor: 'google', architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ name: 'llvmpipe (LLVM 15.0.6, 256 bits)', vendor: 'mesa' })).toBe(true);
    expect(isSoftwareAdapter({ name: 'Mesa lavapipe' })).toBe(true);
    expect(isSoftwareAdapter({ name: 'Microsoft Basic Render Driver', vendor: 'microsoft' })).toBe(true);
    expect(isSoftwareAdapter({ name: 'some adapter', fallback: true })).toBe(true);
    expect(isSoftwareAdapter({ name: 'NVIDIA GeForce RTX 4070', vendor: 'nvidia', architecture: 'ada-lovelace' })).toBe(false);
    expect(isSoftwareAdapter({ name: 'AMD Radeon Graphics (RADV GFX1103_R1)', vendor: 'amd', architecture: 'rdna-3' })).toBe(false);
    expect(isSoftwareAdapter({ name: 'Intel(R) UHD Graphics 620', vendor: 'intel', architecture: 'gen-9' })).toBe(false);
  });
});

describe('device auto (linux: onnxruntime-node offers cpu, webgpu and, when installed, cuda)', () => {
  it('a software adapter is never picked: the CPU, with the reason', () => {
    const c = chooseAuto('linux', { cuda: noCuda, webgpu: adapter('SwiftShader driver 5.0.0', 'google', 'swiftshader', true) });
    expect(c.picked).toBe('cpu');
    expect(c.order).toEqual([]);
    expect(c.reason).toMatch(/WebGPU: the adapter is a software one \(SwiftShader driver 5\.0\.0\)/);
    expect(c.reason).toMatch(/CUDA: missing libonnxruntime_providers_cuda\.so, libcudnn\.so\.9/);
  });

  it('a hardware adapter: WebGPU, the CPU after it', () => {
    const c = chooseAuto('linux', { cuda: noCuda, webgpu: adapter('NVIDIA GeForce RTX 4070', 'nvidia', 'ada-lovelace') });
    expect(c.picked).toBe('webgpu');
    expect(c.order).toEqual(['webgpu']);
    expect(c.reason).toMatch(/^a hardware WebGPU adapter/);
  });

  it('CUDA present: CUDA first, WebGPU next', () => {
    const c = chooseAuto('linux', { cuda, webgpu: adapter('NVIDIA GeForce RTX 4070', 'nvidia', 'ada-lovelace') });
    expect(c.order).toEqual(['cuda', 'webgpu']);
    expect(c.picked).toBe('cuda');
  });

  it('no adapter at all: the CPU, saying the probe found none', () => {
    const c = chooseAuto('linux', { cuda: noCuda, webgpu: () => ({ error: 'no WebGPU adapter (no GPU driver that Dawn can use)' }) });
    expect(c).toMatchObject({ picked: 'cpu', order: [] });
    expect(c.reason).toMatch(/no usable GPU: .*WebGPU: no WebGPU adapter/);
  });
});
