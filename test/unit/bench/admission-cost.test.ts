// The bench's --admission-cost figures: medians of each kind of segment, and their difference.
import { describe, expect, it } from '@jest/globals';
import { admissionCostFigures, AdmissionCostOrder, type AdmissionCostSegment } from '../../bench/admission.js';

const segment = (enforced: boolean, msPerCreate: number | undefined, fields: Partial<AdmissionCostSegment> = {}): AdmissionCostSegment => ({
  enforced,
  creates: 100,
  errors: 0,
  seconds: 1,
  msPerCreate,
  bytes: enforced ? 900 : 700,
  ...fields,
});

describe('the admission cost', () => {
  it('alternates enforced and lifted segments, as many of each, starting and ending unlike', () => {
    expect(AdmissionCostOrder.filter((e) => e).length).toBe(AdmissionCostOrder.length / 2);
    // ABBA BAAB: each half has as many of each, so a steady drift weighs on both alike.
    const half = AdmissionCostOrder.length / 2;
    expect(AdmissionCostOrder.slice(0, half).filter((e) => e).length).toBe(half / 2);
    expect(AdmissionCostOrder[0]).toBe(true);
  });

  it('takes the median of each kind and their difference', () => {
    const figures = admissionCostFigures([
      segment(true, 4.9),
      segment(false, 2.91),
      segment(false, 1.66),
      segment(true, 3.88),
      segment(false, 2.35),
      segment(true, 4.12),
      segment(true, 4.22),
      segment(false, 1.62),
    ]);
    expect(figures.enforcedMsPerCreate).toBe(4.17);
    expect(figures.liftedMsPerCreate).toBe(2.01);
    // 4.17 - 2.005, rounded once.
    expect(figures.policiesMsPerCreate).toBe(2.17);
    expect(figures.enforcedBytes).toBe(900);
    expect(figures.liftedBytes).toBe(700);
    expect(figures.segments).toHaveLength(8);
  });

  it('has no per-create figure where the API server CPU was not measured, and no bytes where every create failed', () => {
    const figures = admissionCostFigures([segment(true, undefined, { errors: 100, bytes: undefined }), segment(false, undefined)]);
    expect(figures.enforcedMsPerCreate).toBeUndefined();
    expect(figures.liftedMsPerCreate).toBeUndefined();
    expect(figures.policiesMsPerCreate).toBeUndefined();
    expect(figures.enforcedBytes).toBeUndefined();
    expect(figures.liftedBytes).toBe(700);
  });
});
