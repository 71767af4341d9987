import React from 'react';
import {AbsoluteFill, interpolate, useCurrentFrame, useVideoConfig} from 'remotion';

export type VariantProps = {
  variant_id: string;
  hook: string;
  body_lines: string[];
  cta: string;
  format: string;
  length_s: number;
  background: string;
  accent: string;
  descriptor: string;
  attribution: string;
  fps: number;
  width: number;
  height: number;
  durationInFrames: number;
};

export const defaultVariantProps: VariantProps = {
  variant_id: 'example',
  hook: 'Stop scrolling',
  body_lines: ['One line', 'Another line'],
  cta: 'Try it today',
  format: 'text_hook',
  length_s: 6,
  background: '#1f2937',
  accent: '#facc15',
  descriptor: '',
  attribution: '',
  fps: 30,
  width: 1080,
  height: 1920,
  durationInFrames: 180,
};

const textStyle: React.CSSProperties = {
  color: 'white',
  fontFamily: 'sans-serif',
  fontWeight: 800,
  textAlign: 'center',
  padding: '0 120px',
};

// Hook for the first ~2.5 s, body lines evenly over the middle, CTA card for the last ~2.5 s.
export const Variant: React.FC<VariantProps> = (props) => {
  const frame = useCurrentFrame();
  const {fps, durationInFrames} = useVideoConfig();
  const edge = Math.min(Math.round(2.5 * fps), Math.floor(durationInFrames / 3));
  const ctaStart = durationInFrames - edge;
  const lines = props.body_lines.length ? props.body_lines : [''];
  const per = Math.max(1, (ctaStart - edge) / lines.length);
  let content: React.ReactNode;
  if (frame < edge) {
    const opacity = interpolate(frame, [0, Math.max(1, Math.min(8, edge))], [0, 1], {extrapolateRight: 'clamp'});
    content = <div style={{...textStyle, fontSize: 96, opacity}}>{props.hook}</div>;
  } else if (frame < ctaStart) {
    const i = Math.min(lines.length - 1, Math.floor((frame - edge) / per));
    content = (
      <div style={{...textStyle, fontSize: 72}}>
        {lines[i]}
        {props.attribution && i === lines.length - 1 ? (
          <div style={{fontSize: 48, fontWeight: 400, marginTop: 32}}>- {props.attribution}</div>
        ) : null}
      </div>
    );
  } else {
    content = (
      <div style={{...textStyle, fontSize: 80, color: '#111', background: props.accent, borderRadius: 32, padding: '48px 64px'}}>
        {props.cta}
      </div>
    );
  }
  return (
    <AbsoluteFill style={{backgroundColor: props.background, justifyContent: 'center', alignItems: 'center'}}>
      {content}
    </AbsoluteFill>
  );
};
