import React from 'react';
import {Composition} from 'remotion';
import {Variant, VariantProps, defaultVariantProps} from './Variant';

export const RemotionRoot: React.FC = () => (
  <Composition
    id="Variant"
    component={Variant}
    width={1080}
    height={1920}
    fps={30}
    durationInFrames={defaultVariantProps.durationInFrames}
    defaultProps={defaultVariantProps}
    calculateMetadata={({props}: {props: VariantProps}) => ({
      durationInFrames: Math.max(1, Math.round(props.durationInFrames || props.length_s * 30)),
      fps: props.fps || 30,
      width: props.width || 1080,
      height: props.height || 1920,
    })}
  />
);
